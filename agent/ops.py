"""Exact operations: flip, rotate, crop, resize and black and white, done with PIL.

Diffusion is the wrong tool for these (it redraws the picture); an operation is exact
and instant. A plan step of kind "op" carries the operation as a short string,
"NAME key=value ...", for example:

    flip direction=horizontal        rotate degrees=90        (clockwise)
    crop ratio=16:9                  crop side=left keep=0.5  (keep the left half)
    resize width=512 height=512      resize scale=0.5
    grayscale

`parse_request` reads one from plain English ("flip it", "crop to a square", "make it
black and white"); `parse` checks a string; `apply` runs it on an image.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from PIL import Image, ImageOps

MAX_SIDE = 4096
MIN_SIDE = 16
SIDES = ("left", "right", "top", "bottom")
_IMAGE = r"(?:\s+(?:it|this|that|the (?:whole )?(?:image|picture|photo|pic|scene|thing)|everything))?"
_FRACTIONS = {"half": 0.5, "third": 1 / 3, "quarter": 0.25, "fifth": 0.2, "tenth": 0.1}
_RATIOS = {"square": "1:1", "widescreen": "16:9", "portrait": "4:5", "landscape": "3:2",
           "instagram": "1:1", "story": "9:16", "vertical": "9:16", "panorama": "3:1",
           "cinemascope": "21:9"}


class OpError(ValueError):
    """An operation string or its parameters are not usable."""


@dataclass(frozen=True)
class Op:
    name: str
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join([self.name, *(f"{k}={v}" for k, v in self.params.items())])

    def describe(self) -> str:
        p = self.params
        if self.name == "flip":
            return f"Flip the image {p['direction']}ly (exact, no diffusion)"
        if self.name == "rotate":
            d = int(p["degrees"]) if float(p["degrees"]).is_integer() else p["degrees"]
            return f"Rotate the image {d} degrees clockwise (exact, no diffusion)"
        if self.name == "crop" and "ratio" in p:
            return f"Crop the image to {p['ratio']} around its centre (exact, no diffusion)"
        if self.name == "crop":
            return (f"Crop the image to its {p['side']} {_fraction_word(float(p['keep']))} "
                    "(exact, no diffusion)")
        if self.name == "resize" and "scale" in p:
            return f"Resize the image to {float(p['scale']):g} times its size (exact)"
        if self.name == "resize":
            return f"Resize the image to {p['width']}x{p['height']} pixels (exact)"
        return "Convert the image to exact black and white (no diffusion)"


def _fraction_word(f: float) -> str:
    for word, v in _FRACTIONS.items():
        if abs(v - f) < 1e-6:
            return word
    return f"{f:.0%}"


def _ratio(text: str) -> str:
    m = re.fullmatch(r"\s*(\d{1,4})\s*[:x/]\s*(\d{1,4})\s*", text)
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise OpError(f"not a ratio: {text!r} (use W:H, e.g. 16:9)")
    w, h = int(m.group(1)), int(m.group(2))
    if max(w / h, h / w) > 10:
        raise OpError(f"the ratio {w}:{h} is too extreme (at most 10:1)")
    return f"{w}:{h}"


def parse(text: str) -> Op:
    """'rotate degrees=90' -> Op('rotate', {'degrees': 90.0}); OpError when unusable."""
    parts = str(text).split()
    if not parts:
        raise OpError("empty operation")
    name, raw = parts[0].lower(), {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep or not key or not value:
            raise OpError(f"bad parameter {part!r} (use key=value)")
        raw[key.lower()] = value.lower()
    try:
        if name == "flip":
            d = raw.get("direction", "horizontal")
            if d not in ("horizontal", "vertical"):
                raise OpError("flip direction must be horizontal or vertical")
            return Op("flip", {"direction": d})
        if name == "rotate":
            deg = float(raw.get("degrees", 90))
            if not math.isfinite(deg):
                raise OpError("rotate degrees must be a finite number, e.g. 90")
            deg %= 360
            return Op("rotate", {"degrees": deg})
        if name == "crop":
            if "ratio" in raw:
                return Op("crop", {"ratio": _ratio(raw["ratio"])})
            side, keep = raw.get("side"), float(raw.get("keep", 0.5))
            if side not in SIDES:
                raise OpError("crop needs ratio=W:H or side=left|right|top|bottom")
            if not 0.05 <= keep < 1:
                raise OpError("crop keep= must be between 0.05 and 1")
            return Op("crop", {"side": side, "keep": round(keep, 4)})
        if name == "resize":
            if "scale" in raw:
                scale = float(raw["scale"])
                if not 0.01 < scale <= 8:
                    raise OpError("resize scale must be between 0.01 and 8")
                return Op("resize", {"scale": scale})
            w, h = int(raw.get("width", 0)), int(raw.get("height", 0))
            if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
                raise OpError(f"resize needs width and height between {MIN_SIDE} and "
                              f"{MAX_SIDE} pixels")
            return Op("resize", {"width": w, "height": h})
        if name in ("grayscale", "greyscale", "bw"):
            return Op("grayscale", {})
    except (TypeError, ValueError) as exc:
        if isinstance(exc, OpError):
            raise
        raise OpError(f"bad value in {text!r}: {exc}") from None
    raise OpError(f"unknown operation {name!r} (flip, rotate, crop, resize, grayscale)")


def apply(img: Image.Image, op: Op | str) -> Image.Image:
    """The operation on a copy of the image (RGB in, RGB out)."""
    op = parse(op) if isinstance(op, str) else op
    img = img.convert("RGB")
    p = op.params
    if op.name == "flip":
        return ImageOps.mirror(img) if p["direction"] == "horizontal" else ImageOps.flip(img)
    if op.name == "rotate":
        deg = float(p["degrees"]) % 360
        exact = {90.0: Image.Transpose.ROTATE_270, 180.0: Image.Transpose.ROTATE_180,
                 270.0: Image.Transpose.ROTATE_90}
        if deg == 0:
            return img.copy()
        if deg in exact:  # PIL's ROTATE_* turn counter-clockwise
            return img.transpose(exact[deg])
        return img.rotate(-deg, resample=Image.Resampling.BICUBIC, expand=True)
    if op.name == "crop":
        w, h = img.size
        if "ratio" in p:
            rw, rh = (int(x) for x in p["ratio"].split(":"))
            if w * rh > h * rw:  # too wide: trim the sides
                nw = max(1, round(h * rw / rh))
                box = ((w - nw) // 2, 0, (w - nw) // 2 + nw, h)
            else:
                nh = max(1, round(w * rh / rw))
                box = (0, (h - nh) // 2, w, (h - nh) // 2 + nh)
        else:
            keep = float(p["keep"])
            kw, kh = max(1, round(w * keep)), max(1, round(h * keep))
            box = {"left": (0, 0, kw, h), "right": (w - kw, 0, w, h),
                   "top": (0, 0, w, kh), "bottom": (0, h - kh, w, h)}[p["side"]]
        return img.crop(box)
    if op.name == "resize":
        if "scale" in p:
            size = (round(img.width * p["scale"]), round(img.height * p["scale"]))
        else:
            size = (p["width"], p["height"])
        if not (MIN_SIDE <= min(size) and max(size) <= MAX_SIDE):
            raise OpError(f"the result would be {size[0]}x{size[1]} pixels; sides must stay "
                          f"between {MIN_SIDE} and {MAX_SIDE}")
        return img.resize(size, Image.Resampling.LANCZOS)
    return ImageOps.grayscale(img).convert("RGB")


def caption_after(caption: str, op: Op) -> str:
    """The description after the operation: a horizontal flip swaps left and right, a
    vertical one top and bottom, black and white says so; the others change nothing."""
    swap = {"horizontal": ("left", "right"), "vertical": ("top", "bottom")}
    if op.name == "flip":
        a, b = swap[op.params["direction"]]
        return re.sub(rf"\b({a}|{b})\b", lambda m: b if m.group(1) == a else a, caption)
    if op.name == "rotate" and float(op.params["degrees"]) == 180:
        return caption_after(caption_after(caption, Op("flip", {"direction": "horizontal"})),
                             Op("flip", {"direction": "vertical"}))
    if op.name == "grayscale":
        if re.search(r"\bblack and white\b", caption, re.IGNORECASE):
            return caption
        return f"{caption.rstrip(' ,.')}, in black and white"
    return caption


# -- plain English -> an operation ------------------------------------------------------

def parse_request(clause: str) -> Op | None:
    """The exact operation a request asks for, or None ("flip it horizontally",
    "rotate 90 degrees to the left", "crop to 16:9", "crop the left half", "resize to
    512x512", "make it black and white")."""
    low = " ".join(clause.lower().replace("°", " degrees").split()).rstrip(" .!?")
    low = re.sub(r"\s*\(\s*-?\d{1,3}\s*(?:degrees?|deg)?\s*\)", "", low)  # "upside down (180)"
    low = re.sub(r"\s+for\s+(?:my\s+|an?\s+|the\s+)?(?:instagram|insta|ig)$", "", low)
    low = re.sub(r"^(?P<r>\d{1,4}\s*[:x/]\s*\d{1,4}|square)\s+crop$", r"crop to \g<r>", low)
    low = re.sub(r"^(flip|mirror)(.*?)\s+(horizontal|vertical)$", r"\1\2 \3ly", low)
    low = re.sub(r"^(flip|mirror)(.*?)\s+the other way(?: round| around)?$", r"\1\2", low)
    low = re.sub(r"^(?:no|without)\s+colou?rs?,?\s+(?:just\s+|only\s+|pure\s+)?", "make it ", low)
    low = re.sub(r"^(?:just\s+|only\s+|pure\s+)(?=black)", "make it ", low)
    low = re.sub(r"\b(?:sideways|on\s+its\s+side)\b(?:\s+(?:to\s+the\s+)?(?=clockwise|left|right|"
                 r"counter|anti))?", "", low).strip() if re.match(r"^(?:turn|rotate)\b", low) and \
        re.search(r"\b(?:sideways|on its side)\b", low) else low
    low = re.sub(r"\s+for\s+(?:my\s+|an?\s+|the\s+)?(?:instagram|insta|facebook|twitter|x|tiktok|"
                 r"youtube|linkedin|a story|stories|story|print|printing|the web|web|a thumbnail|"
                 r"thumbnail|a banner|banner|a wallpaper|wallpaper|a post|post)\b.*$", "", low)
    m = re.fullmatch(rf"(?:flip|mirror){_IMAGE}(?:\s+(?P<d>horizontally|vertically|upside down|"
                     rf"left to right|right to left|top to bottom|sideways|over))?", low)
    if m:
        d = m.group("d") or ""
        return Op("flip", {"direction": "vertical" if d in ("vertically", "upside down",
                                                            "top to bottom") else "horizontal"})
    if re.fullmatch(rf"(?:turn|rotate|flip){_IMAGE}\s+upside down", low):
        return Op("rotate", {"degrees": 180.0})
    m = re.fullmatch(rf"(?:rotate|turn){_IMAGE}(?:\s+(?:by\s+)?(?P<deg>-?\d{{1,3}}(?:\.\d+)?)"
                     rf"(?:\s*degrees?|\s*deg)?)?(?:\s+(?:to\s+the\s+)?(?P<dir>clockwise|"
                     rf"counter-?clockwise|anti-?clockwise|left|right|cw|ccw))?", low)
    if m and (m.group("deg") or m.group("dir") or low.startswith("rotate")):
        deg = float(m.group("deg") or 90)
        if (m.group("dir") or "") in ("counterclockwise", "counter-clockwise", "anticlockwise",
                                      "anti-clockwise", "left", "ccw"):
            deg = -deg
        return Op("rotate", {"degrees": deg % 360})
    m = re.fullmatch(rf"(?:crop|cut|trim){_IMAGE}(?:\s+(?:to|into|as))?(?:\s+(?:a|an))?\s+"
                     rf"(?P<r>\d{{1,4}}\s*[:x/]\s*\d{{1,4}}|{'|'.join(_RATIOS)})"
                     rf"(?:\s+(?:ratio|aspect ratio|format|shape|crop|image))?", low)
    if m:
        r = m.group("r")
        return Op("crop", {"ratio": _ratio(_RATIOS.get(r, r))})
    m = re.fullmatch(r"(?:crop|cut|trim|keep)(?:\s+(?:it|the image|the picture|the photo))?"
                     r"(?:\s+(?:to|down to))?\s+(?:only\s+)?the\s+(?P<side>left|right|top|bottom)"
                     r"\s+(?P<f>half|third|quarter|two thirds|\d{1,2}\s*%)", low)
    if m:
        return Op("crop", {"side": m.group("side"), "keep": _amount(m.group("f"))})
    m = re.fullmatch(r"(?:crop|cut|trim)(?:\s+(?:off|out|away))?\s+the\s+(?P<side>left|right|top|"
                     r"bottom)(?:\s+(?P<f>half|third|quarter|\d{1,2}\s*%))?(?:\s+(?:off|away|"
                     r"out))?(?:\s+of\s+(?:it|the image|the picture|the photo))?", low)
    if m:
        cut = _amount(m.group("f") or "quarter")
        opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
        return Op("crop", {"side": opposite[m.group("side")], "keep": round(1 - cut, 4)})
    m = re.fullmatch(rf"(?:resize|scale|rescale|make){_IMAGE}(?:\s+(?:to|down to|up to))?\s+"
                     rf"(?P<w>\d{{2,5}})\s*(?:x|by|\*)\s*(?P<h>\d{{2,5}})(?:\s*(?:px|pixels))?", low)
    if m:
        return Op("resize", {"width": int(m.group("w")), "height": int(m.group("h"))})
    m = re.fullmatch(rf"(?:resize|scale|rescale|shrink|enlarge|upscale|downscale){_IMAGE}"
                     rf"(?:\s+(?:to|by))?\s+(?P<p>\d{{1,3}})\s*%", low)
    if m:
        return Op("resize", {"scale": int(m.group("p")) / 100})
    m = re.fullmatch(rf"(?:upscale|enlarge|downscale|shrink|scale|resize){_IMAGE}"
                     rf"(?:\s+(?:by\s+)?(?P<k>\d(?:\.\d+)?)\s*(?:x|times))?"
                     rf"(?:\s+(?:up|down))?", low)
    if m and (m.group("k") or low.split()[0] in ("upscale", "downscale")):
        k = float(m.group("k") or 2)
        return Op("resize", {"scale": k if not low.startswith(("downscale", "shrink")) else 1 / k})
    m = re.fullmatch(rf"(?:make|turn|convert|change|render|do|switch)?{_IMAGE}"
                     rf"(?:\s+(?:in)?to|\s+in)?(?:\s+an?)?\s*(?:pure\s+|exact\s+|true\s+)?"
                     rf"(?:black\s*(?:and|&|n)\s*white|b\s*&\s*w|b/w|grayscale|greyscale|"
                     rf"gray\s*scale|grey\s*scale|monochrome)(?:\s+(?:photo|image|picture|version|"
                     rf"please))?", low) or re.fullmatch(
        r"(?:remove|drop|take out|strip)(?:\s+all)?(?:\s+(?:the|of the))?\s+colou?rs?"
        r"(?:\s+from\s+(?:it|the image|the photo|the picture))?", low)
    if m:
        return Op("grayscale", {})
    return None


def _amount(text: str) -> float:
    text = text.strip()
    if text == "two thirds":
        return round(2 / 3, 4)
    if text.endswith("%"):
        v = int(text[:-1].strip()) / 100
        if not 0.05 <= v < 1:
            raise OpError(f"{text} is not a part of the image one can keep or cut")
        return v
    return round(_FRACTIONS[text], 4)
