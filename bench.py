"""Speed of the training loop: the paper's loop as written beside the optimised one.

Each variant (the paper's loop in fp32, then the optimised loop at each ``--amp`` precision) runs
in its own process with its own networks, on one fixed random batch (audio ``(B, 50, 1600)`` in
the int16 range, poses ``(B, 50, 36)`` in [-1, 1]) and a randomly initialised frozen ST-GCN. The
processes take turns, one iteration each per round (the order rotating), so that a machine whose
load changes affects every variant alike; each variant's figures are medians over the rounds.

Printed per variant: iterations/s, seconds per phase of an iteration (generate, local D step,
sequence D step, G step), peak resident memory of its process, generator inference time for one
5 s clip, and the speed-up over the paper's loop.

    python bench.py                              # batch 16, fp32: paper loop vs optimised
    python bench.py --amp fp32 bf16 --iters 7    # also the optimised loop under bf16 autocast
    python bench.py --amp fp32 bf16 --iters 7 --threads 2 --gp_every 4   # + lazy-GP rows

The table ends with a line per speed goal of the issue "Speed is quality" (met or not met).
"""

import contextlib
import multiprocessing
import resource
import statistics
import time

import torch

from config import bench_parser, enabled_speedups, train_parser
from dataset.format import SAMPLE_FRAMES, SAMPLES_PER_FRAME
from dataset.skeleton import POSE_DIM
from model.gan import PHASES, apply_speedups, autocast, build_networks, build_optimizers, training_step
from model.st_gcn import STGCN
from runtime import configure_process, native_bf16, resolve_device


class VariantRunner:
    """One variant of the loop: its networks, optimisers, batch and timers.

    ``optimize``: use the speed-ups but ``no_speedup`` (else the paper's loop as written);
    ``amp``: "fp32" | "bf16"; ``release_memory``: train.py's ``--release_memory``.
    """

    def __init__(self, optimize, amp, batch_size=16, device="cpu", threads=0, seed=0,
                 no_speedup=(), release_memory=False, gp_every=1):
        if threads:  # else torch's default: bench.py measures one fixed setting
            torch.set_num_threads(threads)
        self.device = resolve_device(device)
        flags = ([] if optimize else ["--no-optimize"]) + ["--amp", amp, "--gp_every", str(gp_every)]
        flags += [flag for name in no_speedup for flag in ("--no_speedup", name)]
        flags += ["--release_memory"] if release_memory else []
        self.args = train_parser().parse_args(flags + ["--batch_size", str(batch_size)])
        self.speedups = enabled_speedups(self.args)
        configure_process(self.device, self.speedups, self.args.release_memory)
        torch.manual_seed(seed)
        self.nets = build_networks(self.device)
        self.optimizers = build_optimizers(self.nets, self.args, self.speedups)
        self.st_gcn = STGCN().to(self.device).eval().requires_grad_(False)
        apply_speedups(self.nets, self.st_gcn, self.device, self.speedups)
        gen = torch.Generator().manual_seed(seed)
        self.music = torch.randint(-32768, 32768, (batch_size, SAMPLE_FRAMES, SAMPLES_PER_FRAME),
                                   generator=gen).float().to(self.device)
        self.real = (torch.rand(batch_size, SAMPLE_FRAMES, POSE_DIM, generator=gen) * 2 - 1
                     ).to(self.device)

    def _sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def step(self):
        """Run ``--gp_every`` training iterations (the first with the gradient penalty); returns
        seconds per iteration, ``{phase: seconds, "total": seconds}``, averaged over them."""
        times = dict.fromkeys((*PHASES, "total"), 0.0)
        iterations = self.args.gp_every

        @contextlib.contextmanager
        def timer(phase):
            self._sync()
            start = time.perf_counter()
            yield
            self._sync()
            times[phase] += (time.perf_counter() - start) / iterations

        for index in range(iterations):
            self._sync()
            start = time.perf_counter()
            training_step(self.nets, self.optimizers, self.st_gcn, self.music, self.real,
                          self.args, self.speedups, timer=timer, penalise=index == 0)
            self._sync()
            times["total"] += (time.perf_counter() - start) / iterations
        return times

    def infer(self, clips):
        """Median seconds for the generator (eval mode) to dance one 5 s clip, over ``clips``."""
        generator = self.nets["generator"].eval()
        times = []
        with torch.no_grad(), autocast(self.device, self.args.amp):
            for _ in range(clips + 1):  # the first pass is a warm-up
                self._sync()
                start = time.perf_counter()
                generator(self.music[:1])
                self._sync()
                times.append(time.perf_counter() - start)
        generator.train()
        return statistics.median(times[1:])

    def peak_memory_mb(self):
        """``(peak resident set of this process, peak CUDA memory allocated)`` in MiB."""
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        cuda = (torch.cuda.max_memory_allocated(self.device) / 2 ** 20
                if self.device.type == "cuda" else None)
        return rss, cuda


def _serve(connection, options):
    """Worker process: build a :class:`VariantRunner`, then run the parent's commands."""
    runner = VariantRunner(**options)
    connection.send("ready")
    while True:
        command, argument = connection.recv()
        if command == "stop":
            break
        method = getattr(runner, command)
        connection.send(method(argument) if argument is not None else method())


def main(argv=None):
    args = bench_parser(__doc__).parse_args(argv)
    variants = [("paper loop, fp32", False, "fp32", 1)] + [
        ("optimised, %s" % amp, True, amp, 1) for amp in args.amp]
    if args.gp_every > 1:
        variants += [("optimised, %s, GP/%d" % (amp, args.gp_every), True, amp, args.gp_every)
                     for amp in args.amp]
    context = multiprocessing.get_context("spawn")
    workers = []
    for _, optimize, amp, gp_every in variants:
        parent, child = context.Pipe()
        options = dict(optimize=optimize, amp=amp, batch_size=args.batch_size, device=args.device,
                       threads=args.threads, seed=args.seed,
                       no_speedup=args.no_speedup if optimize else (),
                       release_memory=args.release_memory and optimize, gp_every=gp_every)
        process = context.Process(target=_serve, args=(child, options), daemon=True)
        process.start()
        workers.append((parent, process))
    for parent, _ in workers:
        parent.recv()

    def ask(index, command, argument=None):
        workers[index][0].send((command, argument))
        return workers[index][0].recv()

    print("batch %d, device %s, %s threads, %d warm-up + %d timed iterations per variant, taking "
          "turns; optimised loop without: %s%s" % (
              args.batch_size, args.device, args.threads or "default", args.warmup, args.iters,
              ", ".join(args.no_speedup) or "-",
              "; with --release_memory" if args.release_memory else ""), flush=True)
    if "bf16" in args.amp and not native_bf16(resolve_device(args.device)):
        print("note: this device has no bfloat16 hardware: bf16 is emulated here, and its rows do "
              "not measure the bf16 loop (train.py --amp auto runs fp32 here)", flush=True)
    samples = [[] for _ in variants]
    for round_ in range(args.warmup + args.iters):
        shift = round_ % len(variants)
        for index in [(i + shift) % len(variants) for i in range(len(variants))]:
            times = ask(index, "step")
            if round_ >= args.warmup:
                samples[index].append(times)
        print("  round %d/%d: %s" % (round_ + 1, args.warmup + args.iters, "  ".join(
            "%.2fs" % (s[-1]["total"] if s else float("nan")) for s in samples)), flush=True)

    infer = [ask(i, "infer", args.infer_clips) for i in range(len(variants))]
    memory = [ask(i, "peak_memory_mb") for i in range(len(variants))]
    for parent, process in workers:
        parent.send(("stop", None))
        process.join()

    header = "%-22s %7s %7s %9s %8s %8s %8s %9s %8s %9s" % (
        "variant", "it/s", "speedup", "generate", "local D", "seq D", "G step", "peak RSS",
        "infer", "CUDA peak")
    print(header)
    baseline, results = None, {}
    for (label, _, _, _), runs, seconds, (rss, cuda) in zip(variants, samples, infer, memory):
        median = {phase: statistics.median(t[phase] for t in runs)
                  for phase in (*PHASES, "total")}
        rate = 1 / median["total"]
        baseline = baseline or rate
        results[label] = (rate / baseline, rss)
        print("%-22s %7.3f %6.2fx %8.2fs %7.2fs %7.2fs %7.2fs %6.0f MiB %7.3fs %9s" % (
            label, rate, rate / baseline, *(median[p] for p in PHASES), rss, seconds,
            "%.0f MiB" % cuda if cuda is not None else "-"))
    print("it/s and phases: medians of %d samples (a GP/K sample: the mean of K iterations); "
          "infer: one 5 s clip, batch 1, eval mode" % args.iters)
    for line in goal_lines(results, args.device):
        print(line)


# The goals for the optimised loop against the paper's: (variant, least speed-up).
SPEED_GOALS = {"cpu": (("optimised, fp32", 1.5), ("optimised, bf16", 3.0)),
               "cuda": (("optimised, fp32", 2.0), ("optimised, bf16", 2.0))}
BF16_RSS_GOAL_MIB = 1.2 * 1024  # peak resident memory of the bf16 loop on CPU


def goal_lines(results, device):
    """``results`` ``{label: (speed-up, peak RSS MiB)}`` against :data:`SPEED_GOALS`: one line each
    for the goals whose variants ran."""
    kind = "cuda" if resolve_device(device).type == "cuda" else "cpu"
    lines = []
    for label, goal in SPEED_GOALS[kind]:
        for name in (name for name in results if name.startswith(label)):
            speedup = results[name][0]
            lines.append("goal: %s >= %.1fx the paper loop: %.2fx, %s" % (
                name, goal, speedup, "met" if speedup >= goal else "not met"))
    for name in (name for name in results if kind == "cpu" and name.startswith("optimised, bf16")):
        rss = results[name][1]
        lines.append("goal: %s peak RSS <= %.0f MiB: %.0f MiB, %s" % (
            name, BF16_RSS_GOAL_MIB, rss, "met" if rss <= BF16_RSS_GOAL_MIB else "not met"))
    return lines


if __name__ == "__main__":
    main()
