"""Command-line interface: thin click wrappers around the library."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

# Imported here, before anything imports siren: siren 0.1.0 appends a meta-path importer
# that raises ImportError (not ModuleNotFoundError) for every unknown module, which breaks
# tqdm's optional ``import envwrap`` when tqdm is first imported after siren.
from tqdm import tqdm

from . import __version__, config
from .couplings import D_POINTS_PER_DECADE, D_RANGE_GEV_INV, parse_d_range
from .errors import InputError, T2KHNLError, exit_code
from .scan import DEFAULT_EVENTS, DEFAULT_PRECISION, MAX_EVENTS_FACTOR


class _Group(click.Group):
    """A click group that reports errors in one line (``t2khnl: error: ...``): exit code 2
    for bad input (t2khnl's usage errors and click's: unknown option, a value that is not
    one of the choices, ...), 1 for failures (:func:`t2khnl.errors.exit_code`)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except T2KHNLError as err:
            click.echo(f"t2khnl: error: {err}", err=True)
            sys.exit(exit_code(err))
        except click.UsageError as err:
            where = err.ctx.command_path if err.ctx is not None else ctx.command_path
            message = " ".join(err.format_message().split())
            click.echo(f"t2khnl: error: {message} (see '{where} --help')", err=True)
            sys.exit(err.exit_code)


class _Preset(click.Choice):
    """A packaged preset's name, or the path of a preset YAML file."""

    def __init__(self) -> None:
        super().__init__(config.PRESETS)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(config.PRESETS) + "|FILE.yaml]"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> object:
        if isinstance(value, str) and config.is_preset_file(value):
            if not Path(value).is_file():
                self.fail(f"preset file {value!r} does not exist", param, ctx)
            return value
        return super().convert(value, param, ctx)


class _DRange(click.ParamType):
    """A coupling range ``lo:hi`` [GeV^-1] (:func:`t2khnl.limit.parse_d_range`)."""

    name = "LO:HI"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> object:
        if isinstance(value, tuple):
            return value
        try:
            return parse_d_range(str(value))
        except InputError as err:
            self.fail(str(err), param, ctx)


# Options shared by the commands.
_DETECTOR = click.option("--detector", type=click.Choice(config.DETECTORS), default="nd280",
                         show_default=True, help="nd280 (2019 data) or upgrade (T2K-II).")
_SEED = click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
_PRESET = click.option("--preset", type=_Preset(), default="corrected", show_default=True,
                       help="corrected, published (the paper's configuration), or a preset "
                       "YAML file (t2khnl/schemas/preset.json).")
_D_RANGE = click.option(
    "--d-range", type=_DRange(), default=None,
    help=f"Range of the scanned couplings d_muN, lo:hi [GeV^-1], {D_POINTS_PER_DECADE} points "
    "a decade "
    f"(default {D_RANGE_GEV_INV[0]:g}:{D_RANGE_GEV_INV[1]:g}).")
_SCHEDULER_FILE = click.option(
    "--scheduler-file", type=click.Path(dir_okay=False), default=None,
    help="Dask scheduler file (dask scheduler --scheduler-file, dask-mpi, dask-jobqueue); "
    "replaces --workers. Workers need one thread each and the output folder on a shared "
    "filesystem.")
_DATA_DIR = click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                         help="A folder of your own input files, laid out as the packaged "
                         "data (default: $T2KHNL_DATA_DIR, else the data shipped with t2khnl).")


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="t2khnl")
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def main(verbose: bool) -> None:
    """Dipole-portal heavy neutral leptons in T2K's ND280 and its upgrade."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )


@main.command()
@_DETECTOR
@click.option("--beam", type=click.Choice(config.BEAMS), default="fhc", show_default=True,
              help="fhc (nu_mu) or rhc (nu_mu-bar).")
@click.option("--mass", "mass_gev", type=float, default=0.47, show_default=True,
              help="HNL mass m_N [GeV].")
@click.option("--coupling", "d_gev_inv", type=float, default=1.25e-6, show_default=True,
              help="Dipole coupling d_muN [GeV^-1] (d = mu_tr/2).")
@click.option("--events", "n_events", type=int, default=20000, show_default=True,
              help="Events to inject.")
@_SEED
@_PRESET
@_DATA_DIR
@click.option("--output", type=click.Path(dir_okay=False), default="t2khnl_events.root",
              show_default=True, help="Output ROOT file.")
def simulate(
    detector: str,
    beam: str,
    mass_gev: float,
    d_gev_inv: float,
    n_events: int,
    seed: int,
    preset: str,
    data_dir: str | None,
    output: str,
) -> None:
    """Simulate dipole-HNL decays in the TPC fiducial volumes and write a ROOT ntuple."""
    from . import generate, ntuple

    target = ntuple.check_writable(output)
    start = time.perf_counter()
    # The bar starts with the first injected events, so that bad inputs (rejected before
    # any injection) give only the one-line error message.
    bars: list[tqdm] = []

    def advance(n: int) -> None:
        if not bars:
            bars.append(tqdm(total=n_events, unit="ev", desc="injecting", file=sys.stderr))
        bars[0].update(n)

    try:
        run = generate.simulate(
            detector, beam, mass_gev, d_gev_inv, n_events=n_events, seed=seed,
            preset=preset, data_dir=data_dir, progress=advance,
        )
    finally:
        for bar in bars:
            bar.close()
    ntuple.write(target, run.events, run.metadata)
    meta = run.metadata
    click.echo(
        f"{meta['n_events']} events written to {Path(target).name}; expected N -> nu gamma "
        f"decays in the fiducial volumes for {meta['nominal_pot']:.4g} POT: "
        f"{meta['expected_decays']:.4g} ± {meta['expected_decays_mc_error']:.2g} (MC); "
        f"wall time {time.perf_counter() - start:.1f} s"
    )


@main.command()
@_DETECTOR
@click.option("--mass", "mass_gev", type=float, required=True, help="HNL mass m_N [GeV].")
@click.option("--events", "n_events", type=int, default=20000, show_default=True,
              help="Events to inject per beam.")
@click.option("--pot", "pot_total", type=float, default=None,
              help="Total exposure [POT], split FHC:RHC as in 2019 (default: the preset's).")
@_SEED
@_PRESET
@click.option("--t2k-backgrounds/--no-t2k-backgrounds", default=None,
              help="Use the T2K 2019 backgrounds 0.563 (FHC), 0.015 (RHC) (default: preset).")
@click.option("--flux-xsec", type=float, default=None,
              help="Relative flux x cross-section normsys on the signal, e.g. 0.05 (0: none).")
@_D_RANGE
@_DATA_DIR
@click.option("--output", type=click.Path(file_okay=False), required=True,
              help="Output folder.")
def limit(
    detector: str, mass_gev: float, n_events: int, pot_total: float | None, seed: int,
    preset: str, t2k_backgrounds: bool | None, flux_xsec: float | None,
    d_range: tuple[float, float] | None, data_dir: str | None, output: str,
) -> None:
    """Excluded d_muN interval at 95% CL at one mass, with ntuples, histograms, workspace."""
    from . import limit as limit_step

    cfg = config.load(preset)  # validated once, passed down
    with tqdm(total=2 * n_events, unit="ev", desc="injecting", file=sys.stderr,
              delay=1) as bar:
        outcome = limit_step.run(
            detector, mass_gev, preset=cfg, n_events=n_events, pot_total=pot_total,
            seed=seed, data_dir=data_dir, t2k_backgrounds=t2k_backgrounds,
            flux_xsec=flux_xsec, progress=bar.update, d_range=d_range,
        )
    limit_step.write(outcome, output)
    for beam, cutflow in outcome.cutflows.items():
        click.echo(f"cut flow, {beam.upper()}:\n{cutflow}\n")
    click.echo(_format_limit(outcome.summary))


@main.command()
@_DETECTOR
@click.option("--masses", required=True,
              help="Masses [GeV]: lo:hi:Nlog, lo:hi:Nlin or a comma list, e.g. 0.01:2.0:48log.")
@click.option("--events", "n_events", type=int, default=DEFAULT_EVENTS, show_default=True,
              help="Events to inject per beam at each mass's first attempt.")
@click.option("--pot", "pot_total", type=float, default=None,
              help="Total exposure [POT], split FHC:RHC as in 2019 (default: the preset's).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Scan seed; each mass derives its own from it and its index.")
@_PRESET
@click.option("--workers", type=int, default=1, show_default=True,
              help="Local worker processes (1: run the masses in this process).")
@click.option("--scheduler", default=None,
              help="Dask scheduler address (tcp://host:8786); replaces --workers.")
@_SCHEDULER_FILE
@click.option("--precision", type=float, default=DEFAULT_PRECISION, show_default=True,
              help="Target relative MC error on the edges: a mass is rerun with the events "
              f"its MC errors call for (up to {MAX_EVENTS_FACTOR}x --events in all); 0: one "
              "run with --events.")
@_D_RANGE
@click.option("--force", is_flag=True,
              help="Discard the results of another configuration in the output folder.")
@_DATA_DIR
@click.option("--output", type=click.Path(file_okay=False), required=True,
              help="Scan folder (resumable: rerun the same command to continue).")
def scan(
    detector: str, masses: str, n_events: int, pot_total: float | None, seed: int,
    preset: str, workers: int, scheduler: str | None, scheduler_file: str | None,
    precision: float | None, d_range: tuple[float, float] | None, force: bool,
    data_dir: str | None, output: str,
) -> None:
    """Excluded d_muN intervals over many masses: contour.csv / contour.json, resumable."""
    from . import scan as scan_step
    from . import scanstore

    records = scan_step.scan(
        detector, masses, output_dir=output, preset=preset, n_events=n_events,
        pot_total=pot_total, seed=seed, data_dir=data_dir, workers=workers,
        scheduler=scheduler, scheduler_file=scheduler_file, force=force,
        precision=precision or None, d_range=d_range,
    )
    done = sum(rec["status"] == "done" for rec in records)
    skipped = [rec for rec in records if rec["status"] == "skipped"]
    click.echo(f"{done} masses analysed, {len(skipped)} skipped; contour in "
               f"{Path(output) / 'contour.csv'}")
    for rec in skipped:
        click.echo(f"  skipped m_N = {rec['mass_gev']:g} GeV: {rec['reason']}")
    for line in scanstore.open_edges(records).lines(d_range):
        click.echo(f"  {line}")


@main.command()
@click.option("--preset", type=click.Choice(config.PRESETS), default=None,
              help="One preset only (default: both, side by side, with the walk between "
              "them).")
@click.option("--quick", is_flag=True, help="A coarse demonstration (a few minutes).")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Local worker processes for the scans.")
@_SCHEDULER_FILE
@_SEED
@_DATA_DIR
@click.option("--output", type=click.Path(file_okay=False), required=True,
              help="Output folder (resumable: rerun the same command to continue).")
def reproduce(preset: str | None, quick: bool, workers: int, scheduler_file: str | None,
              seed: int, data_dir: str | None, output: str) -> None:
    """The paper's figures, contours, headline numbers and HEPData record."""
    from . import reproduce as reproduce_step

    presets = config.PRESETS if preset is None else (preset,)
    results = reproduce_step.reproduce(output, presets=presets, quick=quick, workers=workers,
                                       seed=seed, data_dir=data_dir,
                                       scheduler_file=scheduler_file, announce=click.echo)
    for name, numbers in results.items():
        click.echo(f"{name}:")
        for quantity, ours, paper in reproduce_step.headline_rows(numbers.headlines):
            click.echo(f"  {quantity}: {ours} (paper: {paper})")
    click.echo(f"written to {output}")


@main.command()
@click.option("--input", "input_path", required=True,
              help="An ntuple written by `t2khnl simulate`.")
@click.option("--format", "fmt", required=True,
              type=click.Choice(("nuhepmc", "rootracker", "hepevt")),
              help="nuhepmc (HepMC3 ASCII), rootracker (GENIE gRooTracker, needs ROOT) or "
              "hepevt (text, edep-sim 'marley' flavour).")
@click.option("--output", required=True, help="Output file.")
@click.option("--unweighted", "n_unweighted", type=int, default=None,
              help="Draw this many events with probability proportional to their weight "
              "(default: every event with its own weight).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed of the unweighted draw.")
@click.option("--pot", type=float, default=None,
              help="Exposure [POT] the weights and the expected count refer to (default: "
              "the ntuple's nominal exposure).")
@click.option("--offset-m", "offset", default="0,0,0", show_default=True,
              help="x,y,z [m] added to every position (SIREN's ND280 frame: origin at the "
              "magnet centre, z along the beam, y up).")
def export(input_path: str, fmt: str, output: str, n_unweighted: int | None, seed: int,
           pot: float | None, offset: str) -> None:
    """Write an ntuple's events for a detector simulation (NuHepMC, rooTracker, HEPEVT)."""
    from . import export as export_step

    result = export_step.export(input_path, fmt, output, unweighted=n_unweighted, seed=seed,
                                pot=pot, offset_m=offset)
    norm = result.normalisation
    click.echo(
        f"{result.n_events} {'unweighted' if n_unweighted else 'weighted'} events written to "
        f"{result.path.name} ({result.format}); expected N -> nu e+ e- decays in the fiducial "
        f"volumes for {norm.pot:.4g} POT: {norm.expected_ee_decays:.4g} ± "
        f"{norm.mc_error_ee:.2g} (MC) = sum of the event weights"
    )


@main.group(cls=_Group)
def validate() -> None:
    """Validation against published numbers."""


@validate.command("authors")
@click.option("--detector", "detectors", type=click.Choice(config.DETECTORS), multiple=True,
              help="nd280 (runs OGTPC1-3) and/or upgrade (ND280UPGRD, TPC2-5); repeatable "
              "(default: both).")
@click.option("--beam", "beams", type=click.Choice(config.BEAMS), multiple=True,
              help="fhc and/or rhc; repeatable (default: both).")
@click.option("--events", "n_events", type=int, default=6000, show_default=True,
              help="Upscatters injected per simulation (one per detector, beam and point).")
@click.option("--masses", "mass_indices", default=None,
              help="Their grid masses to compare at, as indices 0-9 of geomspace(0.01, 2, 10) "
              "GeV, comma-separated (default: 0,2,5,7, i.e. 10, 32, 190, 616 MeV), each "
              "at their grid coupling nearest their curve.")
@click.option("--points", "grid_points", default=None,
              help="Their grid points to compare at instead, as indices 0-99 (i = 10 x "
              "coupling index + mass index), comma-separated.")
@click.option("--all", "all_points", is_flag=True,
              help="Every point of their 10 x 10 grid (hours) instead.")
@_SEED
@_DATA_DIR
@click.option("--output", type=click.Path(file_okay=False), required=True,
              help="Output folder: authors_runs.csv and authors_runs.md.")
def authors(detectors: tuple[str, ...], beams: tuple[str, ...], n_events: int,
            mass_indices: str | None, grid_points: str | None, all_points: bool, seed: int,
            data_dir: str | None, output: str) -> None:
    """Recompute each of the paper's authors' runs and compare, run by run."""
    from . import authors_report as authors_step

    results = authors_step.validate(
        output, detectors=detectors or config.DETECTORS, beams=beams or config.BEAMS,
        n_events=n_events, seed=seed, all_points=all_points,
        mass_indices=_integers("--masses", mass_indices, 9),
        points=_integers("--points", grid_points, 99), data_dir=data_dir, announce=click.echo)
    click.echo(f"{len(results)} run comparisons written to "
               f"{Path(output) / 'authors_runs.csv'} and authors_runs.md")


@validate.command("paper-grid")
@click.option("--detector", "detectors", type=click.Choice(config.DETECTORS), multiple=True,
              help="nd280 and/or upgrade; repeatable (default: both).")
@click.option("--scan-dir", type=click.Path(file_okay=False), default=None,
              help="A `t2khnl reproduce` output's scans/ folder (nd280_2019/, upgrade/): our "
              "d-scan lower edges.")
@click.option("--scan", "scans", multiple=True, metavar="DETECTOR=FOLDER",
              help="A further scan folder of a detector (`t2khnl scan` output); repeatable, "
              "its masses join the --scan-dir ones.")
@click.option("--events", "n_events", type=int, default=5000, show_default=True,
              help="Upscatters injected per beam and grid mass.")
@_SEED
@_DATA_DIR
@click.option("--output", type=click.Path(file_okay=False), required=True,
              help="Output folder: paper_grid_<detector>.json (read back on a rerun), "
              "paper_grid.md and paper_grid.{pdf,png}.")
def paper_grid(detectors: tuple[str, ...], scan_dir: str | None, scans: tuple[str, ...],
               n_events: int, seed: int, data_dir: str | None, output: str) -> None:
    """Our published statistic on the authors' 10 x 10 grid, contoured their way, beside our
    d-scan edges and the paper's curve."""
    from . import paper_grid as paper_grid_step

    result = paper_grid_step.validate(
        output, detectors=detectors or config.DETECTORS, scan_dir=scan_dir, scans=scans,
        n_events=n_events, seed=seed, data_dir=data_dir, announce=click.echo)
    click.echo(f"ours / paper:\n{result.table}")
    click.echo(f"written to {output}: " + ", ".join(p.name for p in result.written))


def _integers(option: str, text: str | None, largest: int) -> list[int] | None:
    """A comma-separated list of integers 0..largest of an option, or None."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError as err:
        msg = f"{option} must be comma-separated integers 0-{largest}, got {text!r}"
        raise InputError(msg) from err


def _format_limit(summary: Mapping[str, Any]) -> str:
    """Human-readable limit summary."""
    def edge(name: str) -> str:
        value, refused = summary[name], summary["refused"][name]
        if refused:
            return f"not quoted ({refused})"
        if value is None:
            return "none"
        if summary.get(f"{name}_open"):
            end = "lowest" if name == "d_low" else "highest"
            return (f"{value:.3g} GeV^-1 (the {end} scanned coupling: the exclusion goes on "
                    "beyond it; widen the grid with --d-range)")
        return f"{value:.3g} GeV^-1"

    lines = [
        f"{summary['detector']} m_N = {summary['mass_gev']} GeV ({summary['preset']}, "
        f"{summary['analysis']}), {summary['cl']:.0%} CL:",
        f"  excluded d_muN from {edge('d_low')} to {edge('d_high')}",
    ]
    for name in ("d_low", "d_high"):
        if summary[f"signal_at_{name}"]:
            per_channel = ", ".join(f"{k} {v:.3g}" for k, v in summary[f"signal_at_{name}"].items())
            lines.append(f"  signal at {name}: {per_channel} (n_eff {summary['n_eff'][name]:.0f})")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
