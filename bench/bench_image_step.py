"""Benchmark: latency the image step adds per item (real ViT-B-32 architecture, random weights,
since weights cannot be downloaded here; speed does not depend on the weights).

Each item carries a distinct 640x480 JPEG as a data URI and 30 negatives. Printed per item:
decode (base64 + Pillow), image tower forward (open_clip preprocessing + ``encode_image``), the
whole step cold (preflight: decode + encode; apply: score 31 phrases, re-rank), the step warm
(same image again: decode + content-hash cache hit + scoring), and a request of ``--batch``
items whose images are encoded in one forward pass.

    python bench/bench_image_step.py [--items 16] [--batch 32] [--device cpu|cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import time

import numpy as np

from hardneg.miners.types import Kind, Negative, RequestItem
from hardneg.service.images import StepStores, image_steps
from hardneg.service.images.steps import ImageTextStep
from hardneg.service.settings import Settings
from hardneg.service.similarity import CachedEmbedder, OpenClipEmbedder
from hardneg.service.steps import StepInput

NEGATIVES = [f"phrase number {i}" for i in range(30)]


def jpeg_uri(seed: int) -> str:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def item(seed: int) -> RequestItem:
    base = RequestItem(id=str(seed), positives=["school bus"])
    return base.model_copy(update={"image": jpeg_uri(seed)})  # the wire refuses images for now


def negs() -> list[Negative]:
    return [
        Negative(phrase=p, score=0.5, for_positive="school bus", kind=Kind.type, sources=["x"])
        for p in NEGATIVES
    ]


def fresh_step(emb: OpenClipEmbedder) -> ImageTextStep:
    step = image_steps(Settings(_env_file=None), CachedEmbedder(emb, None), StepStores())[0]
    assert isinstance(step, ImageTextStep)
    return step


async def per_item(step: ImageTextStep, items: list[RequestItem]) -> float:
    start = time.perf_counter()
    for it in items:
        await step.prepare([it])
        await step.apply(StepInput(it, "school bus", negs(), k=30))
    return (time.perf_counter() - start) * 1000 / len(items)


async def run(args: argparse.Namespace) -> None:
    emb = OpenClipEmbedder("ViT-B-32", device=args.device, image_tower=True)
    step = fresh_step(emb)
    await step.apply(StepInput(item(10_000), "school bus", negs(), k=30))  # warm-up, text cached
    items = [item(i) for i in range(args.items)]
    src = step.loader.source
    start = time.perf_counter()
    pics = [src.decode(src.check(it.image or "", "x").data, "x") for it in items]
    decode = (time.perf_counter() - start) * 1000 / len(items)
    start = time.perf_counter()
    for p in pics:
        emb.encode_image([p.picture()])
    forward = (time.perf_counter() - start) * 1000 / len(items)
    cold = await per_item(step, items)
    step.loader._memo.clear()  # a later request: the picture is decoded again, its vector cached
    warm = await per_item(step, items)
    batch = [item(20_000 + i) for i in range(args.batch)]
    start = time.perf_counter()
    await step.prepare(batch)
    batched = (time.perf_counter() - start) * 1000 / len(batch)
    print(f"device {args.device}, torch threads {args.threads}, ViT-B-32 (random weights)")
    print(f"  decode 640x480 JPEG (base64 + Pillow)     {decode:8.1f} ms/item")
    print(f"  image tower forward, batch of 1           {forward:8.1f} ms/item")
    print(f"  step, cold (fetch+decode+encode+rank 30)  {cold:8.1f} ms/item")
    print(f"  step, warm (content-hash cache hit)       {warm:8.1f} ms/item")
    print(f"  preflight of {args.batch} items, one forward pass  {batched:8.1f} ms/item")
    await step.aclose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=16)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
