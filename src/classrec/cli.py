"""The `classrec` command: detect, probs, speech-only, plot.

Each subcommand is registered by one `add_*_parser(sub)` function listed in `COMMANDS`; it builds
its parser and sets `run=` to a function of the parsed arguments returning the exit status. To add
a command, write such a function and append it to `COMMANDS` (or call `register(fn)`). The work
itself is the library's (`classrec.batch` for many files, `classrec.pipeline` for one, progress
bars from `classrec.progress`): this module only parses arguments, calls it and prints.

Errors the user can cause (`ClassRecError`) print one line on stderr and exit 1; Ctrl-C exits 130
and leaves no partial output (every file is written to a temporary name and renamed); other
failures print one line too, and `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from classrec.audio import probe_duration
from classrec.auto_threshold import parse_threshold
from classrec.batch import DetectSettings, detect_job, make_output_folders, plan_jobs, run_batch
from classrec.compare import add_compare_parser
from classrec.errors import ClassRecError
from classrec.features import SAMPLE_RATE, WINDOW_SAMPLES
from classrec.finetune import add_finetune_parser
from classrec.lab.evaluate import add_parser as add_evaluate_parser
from classrec.outputs import FORMATS, check_writable, extension, format_probabilities, write_atomic
from classrec.pipeline import file_probabilities, limit_blas_threads, shared_detector
from classrec.presets import PresetAction
from classrec.progress import file_progress, seconds_bar
from classrec.segments import VadOptions
from classrec.speech_only import SPEECH_ONLY_PADS_MS
from classrec.tune import add_tune_parser

PROG = "classrec"


# -- shared options ------------------------------------------------------------------------------
def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--force, --debug, --sample-rate: every subcommand takes them."""
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    parser.add_argument(
        "--sample-rate",
        type=int,
        choices=sorted(WINDOW_SAMPLES),
        default=SAMPLE_RATE,
        help=f"rate (Hz) the model runs at; input is resampled to it (default: {SAMPLE_RATE})",
    )


def add_vad_arguments(
    parser: argparse.ArgumentParser, pad_before: int | None = None, pad_after: int | None = None
):
    """The VadOptions fields as options (see classrec.segments.VadOptions for their meaning);
    the margins default to VadOptions' unless a command has its own (speech-only)."""
    d = VadOptions()
    pad_before = d.pad_before_ms if pad_before is None else pad_before
    pad_after = d.pad_after_ms if pad_after is None else pad_after
    g = parser.add_argument_group("segmentation (see VadOptions)")
    g.add_argument(
        "--preset",
        action=PresetAction,
        metavar="FILE",
        help="options from a preset file (classrec tune); options after it override it",
    )
    g.add_argument(
        "--threshold",
        type=parse_threshold,
        default=d.threshold,
        help="speech starts at this; 'auto': set per recording as it goes",
    )
    g.add_argument(
        "--neg-threshold", type=float, help="speech ends below this (default: threshold - 0.15)"
    )
    g.add_argument("--min-speech-ms", type=int, default=d.min_speech_ms, help="drop shorter speech")
    g.add_argument(
        "--min-silence-ms", type=int, default=d.min_silence_ms, help="shorter pauses do not split"
    )
    g.add_argument("--pad-ms", type=int, help="margin before and after speech (ms)")
    g.add_argument("--pad-before-ms", type=int, help=f"margin before speech (default {pad_before})")
    g.add_argument("--pad-after-ms", type=int, help=f"margin after speech (default {pad_after})")
    g.add_argument("--max-speech-s", type=float, default=d.max_speech_s, help="split longer speech")
    parser.set_defaults(default_pads=(pad_before, pad_after))


def vad_options(args: argparse.Namespace) -> VadOptions:
    """VadOptions from parsed arguments: --pad-before/after-ms override --pad-ms."""
    before, after = args.default_pads
    if args.pad_ms is not None:
        before = after = args.pad_ms
    return VadOptions(
        threshold=args.threshold,
        neg_threshold=args.neg_threshold,
        min_speech_ms=args.min_speech_ms,
        min_silence_ms=args.min_silence_ms,
        pad_before_ms=before if args.pad_before_ms is None else args.pad_before_ms,
        pad_after_ms=after if args.pad_after_ms is None else args.pad_after_ms,
        max_speech_s=args.max_speech_s,
    )


def _subparser(sub, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name,
        help=help,
        description=help,
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    return parser


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (`--jobs 0` would start no worker)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


# -- detect --------------------------------------------------------------------------------------
def run_detect(args: argparse.Namespace) -> int:
    jobs = plan_jobs(args.inputs, args.output, extension(args.format))
    settings = DetectSettings(args.format, vad_options(args), args.sample_rate, args.force)
    if len(jobs) == 1:
        if jobs[0].dest is not None and jobs[0].dest != Path(args.output):
            make_output_folders(jobs)  # -o named a folder: made for one file as for several
        text = detect_job(jobs[0], settings, progress=True)
        if text is not None:
            sys.stdout.write(text)
        return 0
    errors = run_batch(
        jobs,
        settings,
        workers=args.jobs,
        engine=args.engine,
        ray_address=args.ray_address,
        on_error=lambda error: print(f"{PROG}: error: {error}", file=sys.stderr),
    )
    if errors:
        print(f"{PROG}: {len(errors)} of {len(jobs)} files failed", file=sys.stderr)
    return 1 if errors else 0


def add_detect_parser(sub) -> None:
    p = _subparser(
        sub,
        "detect",
        "find speech segments in audio/video files or folders",
        "  classrec detect lecture.mp4                      # JSON on stdout\n"
        "  classrec detect lecture.flac --format srt -o lecture.srt\n"
        "  classrec detect recordings/ --format rttm -o out/ --jobs 4\n"
        "  classrec detect recordings/ -o out/ --engine ray --ray-address auto\n"
        "  classrec detect talk.wav --threshold 0.6 --min-silence-ms 300 --pad-ms 100",
    )
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR", help="audio/video files or folders")
    p.add_argument("--format", choices=FORMATS, default="json", help="output format (json)")
    p.add_argument("-o", "--output", help="output file (one input) or folder (several)")
    p.add_argument(
        "--jobs", type=positive_int, help="files processed in parallel (default: all cores)"
    )
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="run files in local processes, or as Ray tasks (pip install 'classrec[ray]')",
    )
    p.add_argument("--ray-address", help="existing Ray cluster (default: start one locally)")
    add_vad_arguments(p)
    p.set_defaults(run=run_detect)


# -- probs ---------------------------------------------------------------------------------------
def run_probs(args: argparse.Namespace) -> int:
    source, rate = Path(args.input), args.sample_rate
    if args.output:
        check_writable(args.output, args.force)
    progress, on_block = file_progress(source, rate)
    with progress:
        probs, _ = file_probabilities(
            source, rate, shared_detector(rate), on_block, classes=args.classes
        )
    text = format_probabilities(probs, WINDOW_SAMPLES[rate] / rate)
    if args.output:
        write_atomic(args.output, text, args.force)
    else:
        sys.stdout.write(text)
    return 0


def add_probs_parser(sub) -> None:
    p = _subparser(
        sub,
        "probs",
        "write the speech probability of every 32 ms window as CSV",
        "  classrec probs lecture.flac -o probs.csv\n  classrec probs lecture.mp4 | head\n"
        "  classrec probs lecture.flac --classes    # speech, music, noise columns",
    )
    p.add_argument("input", metavar="FILE")
    p.add_argument("-o", "--output", help="CSV file (default: stdout)")
    p.add_argument(
        "--classes",
        action="store_true",
        help="speech, music and other-noise probabilities per window (independent sigmoids)",
    )
    p.set_defaults(run=run_probs)


# -- speech-only ---------------------------------------------------------------------------------
def run_speech_only(args: argparse.Namespace) -> int:
    from classrec.speech_only import PauseOptions, speech_only

    pauses = PauseOptions(args.keep_pause_ms, args.pause_ms, args.pause_ratio)
    progress, on_block = file_progress(Path(args.input), args.sample_rate)
    cutting: list[tuple[tqdm, Callable[[float], None]]] = []

    def on_cut(seconds: float) -> None:  # the second pass gets its own bar when it starts
        if not cutting:
            progress.close()
            cutting.append(seconds_bar(probe_duration(args.input), "cutting"))
        cutting[0][1](seconds)

    try:
        result = speech_only(
            args.input,
            args.output,
            vad_options(args),
            pauses,
            sample_rate=args.sample_rate,
            force=args.force,
            cut_list=not args.no_cut_list,
            on_block=on_block,
            on_cut=on_cut,
        )
    finally:
        for bar in [progress, *(bar for bar, _ in cutting)]:
            bar.close()
    print(result.summary(), file=sys.stderr)
    return 0


def add_speech_only_parser(sub) -> None:
    p = _subparser(
        sub,
        "speech-only",
        "remove non-speech from audio or video (video kept in sync), write the cut list",
        "  classrec speech-only lecture.mp4 lecture-short.mp4\n"
        "  classrec speech-only talk.flac talk.opus --keep-pause-ms 500 --pause-ms 300\n"
        "  classrec speech-only talk.wav out.wav --pause-ratio 0.25 --pad-before-ms 50\n"
        "writes OUT plus OUT.cuts.json and OUT.edl (CMX3600, for video editors)",
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    g = p.add_argument_group("pauses (Audacity's Truncate Silence model)")
    g.add_argument("--keep-pause-ms", type=int, default=200, help="keep shorter pauses whole")
    g.add_argument("--pause-ms", type=int, default=200, help="shorten longer pauses to this")
    g.add_argument("--pause-ratio", type=float, help="or scale the excess of longer pauses by this")
    p.add_argument("--no-cut-list", action="store_true", help="do not write .cuts.json and .edl")
    add_vad_arguments(p, *SPEECH_ONLY_PADS_MS)
    p.set_defaults(run=run_speech_only)


# -- plot ----------------------------------------------------------------------------------------
def run_plot(args: argparse.Namespace) -> int:
    from classrec.plot import plot_file

    check_writable(args.output, args.force)
    source, rate = Path(args.input), args.sample_rate
    _check_plot_request(args.output, args.start, args.end, probe_duration(source))
    progress, on_block = file_progress(source, rate)
    with progress:
        plot_file(
            source,
            args.output,
            vad_options(args),
            rate,
            start_s=args.start,
            end_s=args.end,
            on_block=on_block,
            force=args.force,
        )
    return 0


def _check_plot_request(output: str, start: float, end: float | None, duration: float) -> None:
    """Refuse, before decoding, an image type matplotlib cannot write or a --start/--end (s)
    that shows nothing (`duration` 0.0: unknown)."""
    from matplotlib.figure import Figure

    kinds = Figure().canvas.get_supported_filetypes()
    if Path(output).suffix.lower().lstrip(".") not in kinds:
        choices = " ".join(f".{k}" for k in sorted(kinds))
        raise ClassRecError(f"{output}: cannot draw that file type; use one of {choices}")
    if start < 0 or (end is not None and end <= start):
        raise ClassRecError(f"--start/--end: need 0 <= start < end, got {start} and {end}")
    if duration and start >= duration:
        raise ClassRecError(f"--start {start}: the file ends at {duration:.1f} s")


def add_plot_parser(sub) -> None:
    p = _subparser(
        sub,
        "plot",
        "draw waveform, speech probability, thresholds and speech regions",
        "  classrec plot lecture.flac -o lecture.png\n"
        "  classrec plot lecture.mp4 -o part.png --start 3600 --end 3900",
    )
    p.add_argument("input", metavar="FILE")
    p.add_argument("-o", "--output", required=True, help="image file (.png, .svg, .pdf)")
    p.add_argument("--start", type=float, default=0.0, help="first second to show")
    p.add_argument("--end", type=float, help="last second to show (default: end of file)")
    add_vad_arguments(p)
    p.set_defaults(run=run_plot)


# -- entry point ---------------------------------------------------------------------------------
COMMANDS: list[Callable] = [
    add_detect_parser,
    add_probs_parser,
    add_speech_only_parser,
    add_plot_parser,
    add_evaluate_parser,
    add_tune_parser,
    add_compare_parser,
    add_finetune_parser,
]


def register(add_parser: Callable) -> Callable:
    """Decorator: add a subcommand from another module (`@register def add_x_parser(sub): ...`)."""
    COMMANDS.append(add_parser)
    return add_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ClassRec VAD: find speech in lecture recordings.",
        epilog="examples:\n"
        "  classrec detect lecture.mp4 --format srt -o lecture.srt\n"
        "  classrec speech-only lecture.mp4 lecture-speech.mp4\n"
        "  classrec plot lecture.flac -o lecture.png\n"
        "run 'classrec COMMAND --help' for the options of each command",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


EXTRAS = {
    "scipy": "peers",
    "onnxruntime": "fast",
    "webrtcvad": "peers",
    "ten_vad": "peers",
    "matplotlib": "plot",
    "fastapi": "web",
    "uvicorn": "web",
    "sqlalchemy": "web",
    "ray": "ray",
    "torch": "train",
}
"""Optional dependency (top-level module) → the extra of pyproject.toml that installs it."""


def _missing_extra(command: str, exc: ModuleNotFoundError) -> str:
    """One line saying what a command lacks and how to install it."""
    module = (exc.name or "").split(".")[0]
    extra = EXTRAS.get(module)
    if extra is None:
        return f"{command} needs the Python module {module!r}, which is not installed"
    return f"{command} needs {module}: pip install 'classrec[{extra}]'"


def _version() -> str:
    from classrec import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failed, 2 usage, 130 Ctrl-C)."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        with limit_blas_threads():  # one thread: see pipeline.BLAS_THREADS
            return args.run(args)
    except ClassRecError as exc:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; no partial output was left", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {_missing_extra(args.command, exc)}", file=sys.stderr)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - one line for the user, traceback with --debug
        if debug:
            traceback.print_exc()
        where = "" if debug else " (run with --debug for details)"
        print(f"{PROG}: error: {exc.__class__.__name__}: {exc}{where}", file=sys.stderr)
    return 1
