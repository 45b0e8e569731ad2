"""Evaluation metrics for generated dances: pure numpy functions, no I/O.

- :mod:`metrics.beats`: music beats and tempo (librosa), kinematic beats and tempo from poses,
  beat alignment (both published variants), beat coverage and hit rate, tempo error.
- :mod:`metrics.fid`: Gaussian statistics, Frechet distance, FID, 2-D kinetic features.
- :mod:`metrics.diversity`: diversity and multimodality (mean pairwise distances).
- :mod:`metrics.repertoire`: neck-relative joint distance between dances (between noise draws,
  between recorded dancers of one genre) and move size (the wrists' and ankles' range).
- :mod:`metrics.inputs`: array/tensor conversion and pose layouts shared by the above.
"""
