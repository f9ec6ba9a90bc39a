"""`[train] tensorboard = true`: TensorBoard's own reader (EventAccumulator) reads the event file
gradus writes, and its values are the ones gradus wrote to metrics.csv, layers.csv and the model
file."""

import math
import tempfile
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from common import REPO, gradus, read_csv, read_safetensors, run_tests

CONFIG = """
seed = 5
epochs = 3
[data]
format = "csv"
path = "{data}"
target = "price"
features = ["area"]
task = "regression"
validation = 0.2
standardize = true
[model]
kind = "mlp"
hidden = [6]
activation = "tanh"
[optimizer]
name = "adam"
lr = 0.02
[schedule]
name = "cosine"
[batch]
size = 8
[train]
tensorboard = true
"""


def train_run(tmp: Path) -> Path:
    config = tmp / "tb.toml"
    config.write_text(CONFIG.format(data=REPO / "data" / "house-prices.csv"))
    run = tmp / "run"
    gradus("train", config, "--out", run, "--quiet")
    return run


def load(run: Path) -> event_accumulator.EventAccumulator:
    files = list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert len(files) == 1, files
    acc = event_accumulator.EventAccumulator(str(run / "tensorboard"), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0})
    acc.Reload()
    return acc


def close(a: float, b: float) -> bool:
    # TensorBoard keeps scalars as f32
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def test_scalars_match_metrics_csv():
    with tempfile.TemporaryDirectory() as tmp:
        run = train_run(Path(tmp))
        acc = load(run)
        rows = read_csv(run / "metrics.csv")
        for tag, column in [("epoch/train_loss", "train_loss"), ("epoch/val_loss", "val_loss"),
                            ("epoch/lr", "lr"), ("epoch/grad_norm", "grad_norm"),
                            ("epoch/update_ratio", "update_ratio")]:
            events = acc.Scalars(tag)
            assert [e.step for e in events] == [int(r["step"]) for r in rows], tag
            for e, r in zip(events, rows):
                assert close(e.value, float(r[column])), (tag, e.value, r[column])
        # one loss, learning rate and gradient norm per optimizer step
        steps = int(rows[-1]["step"])
        for tag in ["train/loss", "train/lr", "train/grad_norm"]:
            assert [e.step for e in acc.Scalars(tag)] == list(range(1, steps + 1)), tag
        # the per-step losses average (by batch size) to the epoch's loss: the last epoch's
        # steps cover 40 training rows in batches of 8
        last = [e.value for e in acc.Scalars("train/loss")][-5:]
        assert abs(np.mean(last) - float(rows[-1]["train_loss"])) < 1e-5, (last, rows[-1])
        # per-layer gradient norms per epoch, as layers.csv has them
        for r in read_csv(run / "layers.csv"):
            events = acc.Scalars(f"epoch/grad_norm/{r['layer']}")
            assert close(events[int(r["epoch"]) - 1].value, float(r["grad_norm"])), r


def test_weight_histogram_matches_the_model_file():
    with tempfile.TemporaryDirectory() as tmp:
        run = train_run(Path(tmp))
        acc = load(run)
        weights = read_safetensors(run / "model.safetensors")
        tags = acc.Tags()["histograms"]
        assert {f"weights/{n}" for n in weights} <= set(tags), tags
        assert {f"gradients/{n}" for n in weights} <= set(tags), tags
        for name, w in weights.items():
            events = acc.Histograms(f"weights/{name}")
            assert len(events) == 3, name
            h = events[-1].histogram_value  # the last epoch's: the weights the model file holds
            v = w.astype(np.float64).ravel()
            assert h.num == v.size, name
            assert h.min == v.min() and h.max == v.max(), name
            assert math.isclose(h.sum, v.sum(), rel_tol=1e-12, abs_tol=1e-12), name
            assert math.isclose(h.sum_squares, (v * v).sum(), rel_tol=1e-12), name
            assert sum(h.bucket) == v.size and h.bucket_limit[-1] == v.max(), name
            counts, _ = np.histogram(v, bins=len(h.bucket), range=(v.min(), v.max()))
            if v.min() < v.max():
                assert list(counts) == list(h.bucket), (name, counts, h.bucket)


def test_hparams_plugin_holds_the_config():
    with tempfile.TemporaryDirectory() as tmp:
        run = train_run(Path(tmp))
        acc = load(run)
        content = acc.PluginTagToContent("hparams")
        assert set(content) == {"_hparams_/experiment", "_hparams_/session_start_info",
                                "_hparams_/session_end_info"}, content.keys()
        start = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/session_start_info"]).session_start_info
        assert start.hparams["optimizer.lr"].number_value == 0.02
        assert start.hparams["model.kind"].string_value == "mlp"
        assert start.hparams["train.tensorboard"].bool_value is True
        experiment = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/experiment"]).experiment
        metrics = {m.name.tag for m in experiment.metric_infos}
        assert {"epoch/train_loss", "epoch/val_loss"} <= metrics, metrics
        end = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/session_end_info"]).session_end_info
        assert end.status == 1  # STATUS_SUCCESS


if __name__ == "__main__":
    run_tests([test_scalars_match_metrics_csv, test_weight_histogram_matches_the_model_file,
               test_hparams_plugin_holds_the_config])
