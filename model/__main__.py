"""``python -m model``: print every network's parameter count as one JSON object."""

import json

from . import parameter_counts


def main():
    print(json.dumps(parameter_counts()))


if __name__ == "__main__":
    main()
