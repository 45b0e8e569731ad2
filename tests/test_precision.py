"""--amp auto: bf16 only where the device computes it in hardware."""

import logging

import torch

import runtime
import train
from conftest import write_gcn
from model import checkpoint


def test_auto_follows_the_hardware_and_explicit_choices_stand(monkeypatch, caplog):
    cpu = torch.device("cpu")
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(runtime, "native_bf16", lambda device, native=native: native)
        assert runtime.resolve_amp("auto", cpu) == expected
        assert runtime.resolve_amp("fp32", cpu) == "fp32"
    with caplog.at_level(logging.WARNING):
        assert runtime.resolve_amp("bf16", cpu) == "bf16"  # asked for: run, but say it is emulated
    assert "emulated" in caplog.text


def test_native_bf16_on_cpu_is_onednn_s_answer():
    expected = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert runtime.native_bf16(torch.device("cpu")) is expected


def test_train_records_the_precision_it_ran(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "native_bf16", lambda device: False)
    gcn = write_gcn(tmp_path / "gcn.pth")
    out = tmp_path / "run"
    assert train.main(["--data", tiny_corpus, "--pretrain_GCN", gcn, "--out", str(out), "--max_steps", "1",
                       "--batch_size", "2", "--split", "videos:002", "--amp", "auto",
                       "--save_every_steps", "0"]) == 0
    assert checkpoint.read(str(out / "generator_last.pth"))["config"]["amp"] == "fp32"
