"""PyTorch's side of the train suite (bench/suites/train.ts): the same ResNets (bench/peers/
resnets.py, torchvision's layout), the same batch shapes, one step = zero_grad, forward,
cross-entropy, backward, torch.optim.SGD(momentum 0.9, weight decay 5e-4). Variants: NCHW and
channels-last (model and batch converted once, outside the timing); the faster is reported.
The Transformers are torch.nn.Transformer / TransformerEncoder (post-norm, ReLU FFN, the same
widths, dropout 0.1) with embeddings scaled by sqrt(d), sinusoidal positions and a linear head."""
import math
from types import SimpleNamespace as NS

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import Op, serve
from resnets import CifarResNet, ImagenetResNet


def make(p):
    torch.manual_seed(0)
    model = CifarResNet(p["depth"], p["classes"]) if p["arch"] == 0 else ImagenetResNet(p["depth"], p["c"], p["classes"])
    x = torch.rand(p["batch"], p["c"], p["hw"], p["hw"]) * 2 - 1
    labels = torch.arange(p["batch"]) * 7 % p["classes"]
    return NS(model=model, x=x, labels=labels, opt=None)


def stepper(channels_last):
    def step(t):
        if t.opt is None:  # first call: lay out once, then build the optimizer over the final tensors
            if channels_last:
                t.model = t.model.to(memory_format=torch.channels_last)
                t.x = t.x.contiguous(memory_format=torch.channels_last)
            t.opt = torch.optim.SGD(t.model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        t.opt.zero_grad(set_to_none=False)
        F.cross_entropy(t.model(t.x), t.labels).backward()
        t.opt.step()
    return step


def sinusoids(t, d):
    pos = torch.arange(t).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
    pe = torch.zeros(t, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return pe


class Seq2Seq(nn.Module):
    def __init__(self, p):
        super().__init__()
        d = p["dim"]
        self.src_embed, self.tgt_embed = nn.Embedding(p["vocab"], d), nn.Embedding(p["vocab"], d)
        self.transformer = nn.Transformer(d, p["heads"], p["encoderLayers"], p["decoderLayers"], p["ffn"], p["dropout"], batch_first=True)
        self.generator = nn.Linear(d, p["vocab"], bias=False)
        self.register_buffer("pe", sinusoids(p["maxLen"], d))
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(p["t"]))

    def embed(self, e, x):
        return e(x) * math.sqrt(e.embedding_dim) + self.pe[: x.shape[1]]

    def forward(self, src, tgt):
        return self.generator(self.transformer(self.embed(self.src_embed, src), self.embed(self.tgt_embed, tgt), tgt_mask=self.mask))


class LM(nn.Module):
    def __init__(self, p):
        super().__init__()
        d = p["dim"]
        self.embed = nn.Embedding(p["vocab"], d)
        layer = nn.TransformerEncoderLayer(d, p["heads"], p["ffn"], p["dropout"], batch_first=True)
        self.decoder = nn.TransformerEncoder(layer, p["decoderLayers"])
        self.lm_head = nn.Linear(d, p["vocab"], bias=False)
        self.register_buffer("pe", sinusoids(p["maxLen"], d))
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(p["t"]))

    def forward(self, x):
        h = self.embed(x) * math.sqrt(self.embed.embedding_dim) + self.pe[: x.shape[1]]
        return self.lm_head(self.decoder(h, mask=self.mask))


def make_sequence(kind):
    def make(p):
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(1)
        ids = lambda: torch.randint(1, p["vocab"], (p["batch"], p["t"]), generator=g)  # noqa: E731
        model = Seq2Seq(p) if kind == "seq2seq" else LM(p)
        return NS(model=model, src=ids(), tgt=ids(), labels=ids().reshape(-1), vocab=p["vocab"],
                  opt=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4))
    return make


def sequence_step(kind):
    def step(t):
        t.opt.zero_grad(set_to_none=False)
        logits = t.model(t.src, t.tgt) if kind == "seq2seq" else t.model(t.tgt)
        F.cross_entropy(logits.reshape(-1, t.vocab), t.labels).backward()
        t.opt.step()
    return step


OPS = {
    "train_seq2seq": Op(make=make_sequence("seq2seq"), expected=None, result=None, variants={"nn.Transformer SGD step": sequence_step("seq2seq")}),
    "train_lm": Op(make=make_sequence("lm"), expected=None, result=None, variants={"nn.TransformerEncoder (causal) SGD step": sequence_step("lm")}),
    "train_step": Op(
        make=make, expected=None, result=None,
        variants={"SGD step (NCHW)": stepper(False), "SGD step (channels-last)": stepper(True)},
    ),
}

if __name__ == "__main__":
    serve(OPS)
