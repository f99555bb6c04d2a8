"""`zod download`, `zod verify` and `zod mirror build` (a thin layer over `zod.download`).

The options of `download` and `verify` are those of the reference devkit, so existing
instructions keep working (`verify --dataset-root ROOT` as well as `verify ROOT`); the extra
options (Dropbox token and hosts, retries, timeouts) have environment-variable defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli._common import (
    DATASET_ROOT,
    ROOT,
    VERSION,
    SubsetName,
    VersionName,
    dataset_root,
    dataset_root_and_argument,
    dataset_version,
    fail,
    progress_option,
)

REQ = "Required Arguments"
GEN = "General Download Settings"
FIL = "General Filter Settings"
FRA = "Frames Filter Settings"
SEQ = "Sequences/Drives Filter Settings"
SRC = "Source Settings"


def _env_option(envvar: str, help: str) -> Any:
    """An optional source setting that can also come from the environment variable ``envvar``."""
    return typer.Option(None, envvar=envvar, help=help, rich_help_panel=SRC)


def download(
    url: str = typer.Option(
        ...,
        help="The dataset link: a Dropbox shared folder, an http(s) mirror, "
        "a file:// URL or a local directory",
        prompt="What is the URL of the dataset "
        "(the Dropbox link from zod.zenseact.com, or a mirror)?",
        rich_help_panel=REQ,
    ),
    output_dir: str = typer.Option(
        ...,
        help="Output directory where the dataset will be extracted",
        prompt="Where do you want to extract the dataset (e.g. ~/data/zod)?",
        rich_help_panel=REQ,
    ),
    subset: SubsetName = typer.Option(
        ...,
        help="The sub-dataset to download",
        prompt="Which sub-dataset do you want to download?",
        rich_help_panel=REQ,
    ),
    version: VersionName = typer.Option(
        ...,
        help="The version of the dataset to download",
        prompt="Which version do you want to download?",
        rich_help_panel=REQ,
    ),
    rm: bool = typer.Option(
        False, help="Remove the downloaded archives after extraction", rich_help_panel=GEN
    ),
    dry_run: bool = typer.Option(False, help="Print what would be downloaded", rich_help_panel=GEN),
    extract: bool = typer.Option(True, help="Unpack the archives", rich_help_panel=GEN),
    extract_already_downloaded: bool = typer.Option(
        False, help="Extract already downloaded archives again", rich_help_panel=GEN
    ),
    parallel: bool = typer.Option(True, help="Download files in parallel", rich_help_panel=GEN),
    max_workers: int | None = typer.Option(
        None, help="Max number of parallel downloads (default 8)", rich_help_panel=GEN
    ),
    no_confirm: bool = typer.Option(
        False,
        "--no-confirm/--confirm",
        "-y",
        help="Don't ask for confirmation",
        rich_help_panel=GEN,
    ),
    annotations: bool = typer.Option(True, help="Download annotations", rich_help_panel=FIL),
    images: bool = typer.Option(True, help="Download the images", rich_help_panel=FIL),
    blur: bool = typer.Option(True, help="Download blurred images", rich_help_panel=FIL),
    lidar: bool = typer.Option(True, help="Download lidar data", rich_help_panel=FIL),
    oxts: bool = typer.Option(True, help="Download oxts data", rich_help_panel=FIL),
    infos: bool = typer.Option(
        True, help="Download infos (index, calibration, ego motion, metadata)", rich_help_panel=FIL
    ),
    radar: bool = typer.Option(True, help="Download radar data", rich_help_panel=SEQ),
    vehicle_data: bool = typer.Option(True, help="Download the vehicle data", rich_help_panel=SEQ),
    dnat: bool = typer.Option(False, help="Download DNAT images", rich_help_panel=FRA),
    num_scans_before: int = typer.Option(
        0, help="Number of earlier lidar scans to download (-1 == all)", rich_help_panel=FRA
    ),
    num_scans_after: int = typer.Option(
        0, help="Number of later lidar scans to download (-1 == all)", rich_help_panel=FRA
    ),
    dropbox_token: str | None = _env_option(
        "ZOD_DROPBOX_TOKEN", "Dropbox access token (Dropbox links only)"
    ),
    dropbox_refresh_token: str | None = _env_option(
        "ZOD_DROPBOX_REFRESH_TOKEN",
        "Dropbox refresh token: new access tokens are fetched when needed (with --dropbox-app-key)",
    ),
    dropbox_app_key: str | None = _env_option(
        "ZOD_DROPBOX_APP_KEY", "Dropbox app key (for the refresh token)"
    ),
    dropbox_app_secret: str | None = _env_option(
        "ZOD_DROPBOX_APP_SECRET", "Dropbox app secret (apps without PKCE only)"
    ),
    dropbox_api_url: str | None = _env_option(
        "ZOD_DROPBOX_API_URL", "Dropbox API host (default https://api.dropboxapi.com)"
    ),
    dropbox_content_url: str | None = _env_option(
        "ZOD_DROPBOX_CONTENT_URL", "Dropbox content host (default https://content.dropboxapi.com)"
    ),
    segments: int = typer.Option(
        4, help="Parallel byte ranges per large archive (1: one stream)", rich_help_panel=SRC
    ),
    segment_min_mb: float = typer.Option(
        256, help="Archives from this size (MiB) are fetched in segments", rich_help_panel=SRC
    ),
    retries: int = typer.Option(
        6, help="Retries of a failing transfer before giving up", rich_help_panel=SRC
    ),
    retry_backoff: float = typer.Option(
        1.0, help="First wait between retries in seconds (doubles each time)", rich_help_panel=SRC
    ),
    timeout: float = typer.Option(60.0, help="Network timeout in seconds", rich_help_panel=SRC),
    check_space: bool = typer.Option(
        True, help="Refuse to start without enough free disk space", rich_help_panel=GEN
    ),
    progress: bool = progress_option(rich_help_panel=GEN),
) -> None:
    """Download the Zenseact Open Dataset (resumable, verified, safely extracted)."""
    from zod.download.download import DownloadOptions, plan_download, run_download
    from zod.download.sources import make_source
    from zod.download.streams import StreamFilter
    from zod.download.transfer import RetryPolicy, SegmentPolicy
    from zod.errors import ZodError

    frames = subset == SubsetName.frames
    stream_filter = StreamFilter(
        version=version.value,
        annotations=annotations,
        images=images,
        blur=blur,
        dnat=dnat,
        lidar=lidar,
        oxts=oxts,
        infos=infos,
        radar=radar,
        vehicle_data=vehicle_data,
        num_scans_before=num_scans_before if frames else -1,
        num_scans_after=num_scans_after if frames else -1,
    )
    options = DownloadOptions(
        output_dir=Path(output_dir).expanduser(),
        rm=rm,
        dry_run=dry_run,
        extract=extract,
        extract_already_downloaded=extract_already_downloaded,
        parallel=parallel,
        max_workers=max_workers,
        retry=RetryPolicy(attempts=retries, backoff_s=retry_backoff),
        progress=progress,
        check_space=check_space,
        segments=SegmentPolicy(segments=max(1, segments), min_bytes=int(segment_min_mb * 2**20)),
    )
    try:
        source = make_source(
            url,
            dropbox_token=dropbox_token,
            timeout_s=timeout,
            api_url=dropbox_api_url,
            content_url=dropbox_content_url,
            refresh_token=dropbox_refresh_token,
            app_key=dropbox_app_key,
            app_secret=dropbox_app_secret,
        )
        plan = plan_download(source, subset.value, stream_filter, options)
    except ZodError as err:
        fail(err)
    if not plan.archives:
        if plan.ignored:
            typer.echo("Unrecognised files in the folder: " + ", ".join(plan.ignored))
        fail("No files to download. Perhaps you specified too many filters?")
    if not no_confirm:
        typer.echo(plan.summary())
        if version == VersionName.mini:
            typer.echo("(version mini: the stream filters do not apply)")
        elif frames and num_scans_before == num_scans_after == 0 and lidar:
            typer.secho(
                "Note: only the core lidar scans will be downloaded; use --num-scans-before / "
                "--num-scans-after for the surrounding scans.",
                fg=typer.colors.YELLOW,
            )
        typer.confirm("Download with the above settings?", abort=True)
    try:
        report = run_download(plan)
    except ZodError as err:
        fail(err)
    except KeyboardInterrupt:
        fail("Interrupted: partial files are kept; rerun the same command to resume.", 130)
    if dry_run:
        return
    from zod.download.errors import format_size

    typer.echo(
        f"Done: {len(report.downloaded)} downloaded ({format_size(report.fetched_bytes)}), "
        f"{len(report.extracted)} extracted, {len(report.skipped)} already done. "
        f"Check the result with: zod verify {options.output_dir} "
        f"--subset {subset.value} --version {version.value}"
    )


def verify(
    root: str | None = ROOT,
    dataset_root_option: str | None = DATASET_ROOT,
    subset: SubsetName = typer.Option(..., help="The sub-dataset to verify"),
    version: VersionName | None = VERSION,
    checksums: str | None = typer.Option(
        None,
        help="A SHA256SUMS file, directory or URL to check the "
        "downloaded archives (or dataset files) against",
    ),
    fail_on_missing: bool = typer.Option(
        False, help="Exit with status 1 when an expected file is missing"
    ),
    workers: int = typer.Option(8, help="Threads listing directories"),
    progress: bool = progress_option(),
) -> None:
    """Verify the downloaded files: expected vs present, per stream and lidar offset."""
    from zod.download.verify import verify_dataset
    from zod.errors import ZodError

    path = dataset_root(root, dataset_root_option, allow_url=False)
    version_name = dataset_version(path, subset.value, version)
    try:
        report = verify_dataset(
            path,
            subset.value,
            version_name,
            checksums=checksums,
            workers=workers,
            progress=progress,
        )
    except ZodError as err:
        fail(err)
    typer.echo(report.table())
    if report.checksums is not None and report.checksums.mismatched:
        fail(f"{len(report.checksums.mismatched)} file(s) do not match their checksum (above)")
    if fail_on_missing and not report.complete:
        fail("expected files are missing (above) and --fail-on-missing is given")


def mirror_build(
    root: str | None = typer.Argument(
        None, metavar="ROOT", show_default=False, help="An extracted dataset root"
    ),
    out_dir: str | None = typer.Argument(
        None,
        metavar="OUT_DIR",
        show_default=False,
        help="Where to write <folder>/<archive>.tar.gz and SHA256SUMS",
    ),
    dataset_root_option: str | None = DATASET_ROOT,
    subset: list[SubsetName] | None = typer.Option(
        None, help="Sub-datasets to mirror (default: all found)"
    ),
    version: list[VersionName] | None = typer.Option(
        None, help="Versions to build (default: both)"
    ),
    compress_level: int = typer.Option(6, min=0, max=9, help="gzip level (1 is fastest)"),
    workers: int = typer.Option(1, help="Archives built in parallel (0 = one per CPU core)"),
    force: bool = typer.Option(False, help="Rebuild archives already listed in SHA256SUMS"),
    progress: bool = progress_option(),
) -> None:
    """Turn an extracted dataset into a mirror that `zod download --url` can read."""
    from zod.download.mirror import build_mirror
    from zod.errors import ZodError

    src_root, out_name = dataset_root_and_argument(
        root, out_dir, dataset_root_option, "OUT_DIR", allow_url=False
    )
    try:
        report = build_mirror(
            src_root,
            Path(out_name),
            subsets=tuple(s.value for s in subset) if subset else None,
            versions=tuple(v.value for v in version) if version else ("full", "mini"),
            compress_level=compress_level,
            workers=workers,
            force=force,
            progress=progress,
        )
    except ZodError as err:
        fail(err)
    for folder, names in report.archives.items():
        reused = report.reused.get(folder, [])
        typer.echo(f"{folder}: {len(names)} archives built, {len(reused)} kept")
        for name in sorted(names + reused):
            typer.echo(f"  {name} ({report.file_counts.get(f'{folder}/{name}', 0)} files)")
    if report.ignored_files:
        typer.secho(
            f"{len(report.ignored_files)} files belong to no stream and were left out, e.g. "
            + ", ".join(report.ignored_files[:3]),
            fg=typer.colors.YELLOW,
            err=True,
        )


def register(app: typer.Typer) -> None:
    """Add `download`, `verify` and the `mirror` group to the `zod` command."""
    app.command("download")(download)
    app.command("verify", no_args_is_help=True)(verify)
    mirror = typer.Typer(help="Build a mirror of the release's archives.", no_args_is_help=True)
    mirror.command("build", no_args_is_help=True)(mirror_build)
    app.add_typer(mirror, name="mirror")


def main() -> None:
    """Run these commands without the rest of the `zod` command (used by the tests)."""
    app = typer.Typer(no_args_is_help=True, add_completion=False)
    register(app)
    app(prog_name="zod")


if __name__ == "__main__":  # pragma: no cover
    main()
