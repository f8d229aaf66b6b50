"""`mtedit bench toy`'s printed table and plot."""

from __future__ import annotations

from collections.abc import Sequence


def _f(x, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def format_table(fig: dict) -> str:
    """One chain mode: a row per preset and turn, then each preset's summary."""
    budget = "each preset's default steps" if fig["nfe"] is None else f"~{fig['nfe']} NFE per turn"
    region = fig.get("region", "none")
    lines = [(f"chain {fig['chain']}, {budget}, region {region}; {fig['scenes']} {fig['split']} "
              f"scenes x {fig['turns']} turns, seed {fig['seed']}"),
             ("preset        turn  success  kept  untouched_psnr  full_psnr  full_ssim  seconds"
              "  mask_iou  recall  exact  seam")]
    for name, data in fig["presets"].items():
        for t in data["turns"]:
            lines.append(f"{name:<13} {t['turn']:>4}  {t['success']:>7.0%}  {t['kept']:>4.0%}  "
                         f"{_f(t['untouched_psnr'], '.2f'):>14}  {t['full_psnr']:>9.2f}  "
                         f"{t['full_ssim']:>9.3f}  {t['seconds']:>7.2f}"
                         f"  {_f(t.get('mask_iou'), '.2f'):>8}  {_f(t.get('mask_recall'), '.2f'):>6}"
                         f"  {_f(t.get('exact_fraction'), '.0%'):>5}"
                         f"  {_f(t.get('seam_delta'), '.2f'):>4}")  # fmt: skip
    lines.append("preset        steps  NFE/turn  success (mean)  kept (last)  untouched (last)"
                 "  pooled (last)  mask IoU (mean)  exact (last)  seam (mean)")
    for name, data in fig["presets"].items():
        s = data["summary"]
        lines.append(f"{name:<13} {data['steps']:>5}  {data['nfe_per_turn']:>8}  "
                     f"{s['success_mean']:>14.0%}  {s['kept_last']:>11.0%}  "
                     f"{_f(s['untouched_psnr_last'], '.2f'):>16}"
                     f"  {_f(s.get('untouched_psnr_pooled_last'), '.2f'):>13}"
                     f"  {_f(s.get('mask_iou_mean'), '.2f'):>15}"
                     f"  {_f(s.get('exact_fraction_last'), '.0%'):>12}"
                     f"  {_f(s.get('seam_delta_mean'), '.2f'):>11}")  # fmt: skip
    t2i = fig.get("t2i") or {}
    if t2i:
        lines.append(
            f"t2i ({t2i['samples']} captions, {t2i['preset']}): attributes {t2i['attributes']:.0%}, "
            f"background {t2i['background']:.0%}, colour {t2i['colour']:.0%}, "
            f"shape {t2i['shape']:.0%}, size {t2i['size']:.0%}, all right {t2i['all']:.0%}"
        )
    lines.append(f"VAE round trip: {fig['vae_psnr']:.1f} dB whole image, "
                 f"{_f(fig['vae_untouched_psnr'], '.1f')} dB over the untouched masks "
                 f"({fig['untouched_share']:.0%} of the pixels, {fig['untouched_scenes']} of "
                 f"{fig['scenes']} scenes)")  # fmt: skip
    return "\n".join(lines)


def plot(figures: Sequence[dict], path) -> None:
    """Untouched PSNR and kept rate against turn, one line per preset, a column per figure
    (chain mode, region mode); with regions, a third row: mask IoU (solid) and the share
    of pixels outside every mask that are byte-identical to turn 0 (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = len(figures)
    regions = any(f.get("region", "none") != "none" for f in figures)
    n_rows = 3 if regions else 2
    fig, axes = plt.subplots(n_rows, cols, figsize=(4.2 * cols, 3.1 * n_rows), squeeze=False,
                             sharey="row")  # fmt: skip
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(dict.fromkeys(n for f in figures for n in f["presets"]))
    for c, f in enumerate(figures):
        for i, name in enumerate(names):
            data = f["presets"].get(name)
            if not data:
                continue
            ts = [t["turn"] for t in data["turns"]]
            style = {"color": colours[i % len(colours)], "marker": "o", "markersize": 3,
                     "linewidth": 2.2 if name == "mtc" else 1.2, "label": name}  # fmt: skip
            axes[0][c].plot(ts, [t["untouched_psnr"] for t in data["turns"]], **style)
            axes[1][c].plot(ts, [100 * t["kept"] for t in data["turns"]], **style)
            if regions:
                iou = [t.get("mask_iou") for t in data["turns"]]
                exact = [t.get("exact_fraction") for t in data["turns"]]
                axes[2][c].plot(ts, [float("nan") if x is None else x for x in iou], **style)
                axes[2][c].plot(ts, [float("nan") if x is None else x for x in exact],
                                **{**style, "linestyle": "--", "label": None})  # fmt: skip
        budget = "default steps" if f["nfe"] is None else f"{f['nfe']} NFE/turn"
        axes[0][c].set_title(f"{f['chain']} chain, {budget}, region {f.get('region', 'none')}",
                             fontsize=10)  # fmt: skip
        if f.get("vae_untouched_psnr"):
            axes[0][c].axhline(f["vae_untouched_psnr"], color="grey", linestyle=":",
                               linewidth=1, label="VAE round trip")  # fmt: skip
        axes[-1][c].set_xlabel("turn")
        for r in range(n_rows):
            axes[r][c].grid(alpha=0.3)
    axes[0][0].set_ylabel("untouched PSNR (dB)")
    axes[1][0].set_ylabel("kept (% of scenes)")
    if regions:
        axes[2][0].set_ylabel("mask IoU / exact share")
    axes[0][-1].legend(fontsize=8)
    f0 = figures[0]
    fig.suptitle(f"bench toy: {f0['scenes']} {f0['split']} scenes x {f0['turns']} turns",
                 fontsize=11)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
