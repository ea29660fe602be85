"""Run under torchrun by test_frame_training: two CPU ranks train a micro frame model (its config
as JSON, the second argument) a few steps. Each rank prints one JSON line: its rank, the first
world it drew and a checksum of its weights."""
import itertools
import json
import sys

import torch

from rtfm.frame_model import FrameModel
from rtfm.train_frames import FrameTrainConfig, stream_seed, train_frames
from worldgen.frame_training import training_walks


def main(out: str, model_config: dict) -> None:
    torch.manual_seed(0)
    model = FrameModel(**model_config)
    first = {}

    def walks(rank: int, start: int):
        stream = training_walks(resolution=32, frames=10, seed=stream_seed(0, rank, start), workers=0, text_encoder=None)
        walk = next(stream)
        first.update(rank=rank, first_world=float(walk.frames[0].rgb.double().sum()))
        return itertools.chain([walk], stream)

    cfg = FrameTrainConfig(steps=4, batch_size=2, lr=1e-3, warmup=1, min_buffer=2, buffer=2, new_per_step=0.0,
                           log_every=1, checkpoint_every=1000, forcing_start=0.5, p_image=0.5, p_video=0.5)
    train_frames(model, walks, cfg, out, log=lambda s: None)
    weights = float(sum(p.detach().double().sum() for p in model.parameters()))
    print(json.dumps({**first, "weights": weights}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
