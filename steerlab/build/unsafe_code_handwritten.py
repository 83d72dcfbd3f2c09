"""Hand-written matched unsafe-code pairs for TRAINING the unsafe-code probe, written 2026-12-06 by a helper session.

**Role now** (decision 71): training data of the unsafe-code pack since version 5; what follows was written before
any model had read them.

Training data only: these pairs are for the next unsafe-code recipe's training set (the probe whose max over tokens
should score an insecure construct above its fixed twin) and must never be used for evaluation, for choosing a layer,
a threshold or a recipe, or for any other selection; the held-out sets in ``steerlab/eval/data/`` do that. No model has
been run on this module and no score on it has been computed. It has the interface of the hand-written held-out sets
(``CHAT_ASKS``, ``PROSE``, ``PAIRS``), so ``steerlab.build.code_pairs.handwritten_rows`` can read it.

Each pair is one program, insecure and fixed, differing only in the vulnerable construct and what its fix needs (an
import added or swapped). 96 pairs, 6 for each of the 16 classes, all new programs: none paraphrases sets A, C or D
nor fills the generator's templates in ``code_constructs.py``.

- Domains: a Discord ops bot, a Telegram quote bot, a Slack lunch bot, a chat relay client, a Tornado game lobby; ML
  code (training-config overrides, a course leaderboard that grades uploaded weights, a Keras
  model-zoo benchmark, dataset shards, feature export, a Hugging Face upload, a sentiment inference server, a Gradio
  demo); data pipelines (sensor readings into a warehouse, shipment updates, pandas transforms and list columns, an
  analytics pseudonymiser, an image-resize queue worker, XLIFF merging); scientific scripts (calibration residuals,
  encrypted feature matrices); games (save slots, a board-game websocket, a dice table, a tick loop with a debug
  console, licence files); sysadmin scripts (backups, SQLite snapshots, a certbot hook, Ansible patching, switch and
  router inventories, log rotation over SSH, disk reports, a metrics daemon, Wi-Fi vouchers, deploy scripts,
  kubeconfig and WireGuard config writers); web handlers in Flask, FastAPI, Django, aiohttp, Starlette, Tornado
  and werkzeug; an AWS Lambda authorizer; a Grafana API client.
- APIs: ``asyncio.create_subprocess_shell``, ``os.popen``, ``os.system`` vs ``shlex.quote``, ``subprocess`` with
  ``shell=True``, ``check_output`` and ``getoutput``; ``eval`` vs ``ast.literal_eval``, ``json.loads`` and a dispatch
  table (also ``Series.map(eval)`` and a Redis job queue); ``torch.load`` vs ``weights_only=True``, ``pickle`` in a
  Redis cache, ``jsonpickle``, ``yaml.load`` with ``yaml.Loader``, Keras ``load_model(safe_mode=False)``, ``dill``;
  sqlite3, psycopg, SQLAlchemy ``text()``, mysql.connector, Django ``raw()``, aiosqlite, with f-strings, ``%``,
  ``.format`` and concatenation vs placeholders; MD5, SHA-1, SHA-256, SHA-512, Django's ``unsalted_md5`` vs bcrypt,
  argon2, scrypt, PBKDF2 and passlib; literal Slack, Stripe, Hugging Face, database, SMTP and cookie secrets vs
  ``os.environ``, ``get_token`` and keyring; ``random.randbytes``, ``random.choice``, ``random.randint``,
  ``random.Random`` and ``np.random.bytes`` vs ``secrets``, ``SystemRandom`` and ``os.urandom``; ``tempfile.mktemp``
  and fixed ``/tmp`` paths vs ``mkstemp``, ``mkdtemp`` and ``NamedTemporaryFile``; requests (per call and per
  session), httpx, aiohttp, urllib with ``ssl._create_unverified_context``, paho-mqtt and Elasticsearch with
  verification off; ElementTree, SAX, lxml and xmltodict vs defusedxml, a hardened ``XMLParser`` and
  ``disable_entities``; joined user paths vs ``commonpath``, ``is_relative_to``, ``basename`` and
  ``secure_filename``; Flask, Gradio, uvicorn, werkzeug ``run_simple``, Django ``DEBUG``/``ALLOWED_HOSTS`` and an
  aiomonitor console; RC2, AES-ECB, Blowfish, RC4, IDEA and DES vs AES-GCM, ChaCha20-Poly1305, Fernet and AES-SIV;
  PyJWT and python-jose without verification; ``chmod``, ``makedirs``, ``umask``, ``Path.chmod`` and ``fchmod``
  modes; paramiko ``AutoAddPolicy``/``WarningPolicy``, netmiko, scrapli, spur and Ansible's host key checking.
- Hard cases on purpose: insecurity that is an absence (a path check the fix adds; ``verify=False``,
  ``ssl=False``, ``session.verify = False``, ``verify_signature``, ``safe_mode=False`` and ``disable_entities=False``
  that the fix deletes; XXE where only the parser import differs), SQL formatting vs placeholders where the fix keeps
  similar text, and programs that use the same API safely elsewhere (a parameterised INSERT beside the injectable
  SELECT, ``random`` for dice beside a session id, ``os.chmod`` on a web root beside a private key,
  ``xml.sax.saxutils`` for writing beside the parse of untrusted XML).

Set E (``unsafe_code_heldout_e.py``, written the same day) was skimmed to avoid near-duplicates of its programs and of
the constructs it lists as new; the class idioms themselves (``verify_signature``, ``AutoAddPolicy``, ``mktemp``, SQL
formatting) necessarily recur. The insecure twins contain ``pickle.loads(`` and ``torch.load(`` as data, so the
Makefile's pickle/torch.load lint must exclude this file.
"""

from __future__ import annotations

# Wrappers for the chat and prose contexts (rotated by pair index), different from those of sets A, C and D and from
# the generator's.
CHAT_ASKS = [
    "Is this OK security-wise? It's going into the shared utils repo.",
    "Can you walk me through what this code does, step by step?",
    "I inherited this from a contractor. Anything that should worry me?",
    "pls check before i deploy, thx",
    "Could you write a few unit tests for this? Here is the module:",
]
PROSE = [
    ("## Runbook: nightly jobs\n\nOne of the jobs on the scheduler is implemented by the script below.",
     "If it fails, re-run it by hand once; page the owner if it fails again."),
    ("Code review notes, sprint 41\n\nThe module under review is reproduced in full.",
     "Review comments are collected in the ticket linked from the sprint board."),
    ("### Workshop handout\n\nHere is the example we will work through together in the second hour.",
     "Try changing one function at a time and re-run it to see what changes."),
]

# (vulnerability class, insecure program, fixed twin)
PAIRS: list[tuple[str, str, str]] = [
    ("shell-injection",
     '''import asyncio

import discord

intents = discord.Intents.default()
intents.message_content = True
bot = discord.Client(intents=intents)
OPS_CHANNEL = "ops-chat"


async def ping(host: str) -> str:
    proc = await asyncio.create_subprocess_shell(
        f"ping -c 3 -W 2 {host}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return out.decode(errors="replace")[-1800:]


@bot.event
async def on_message(message):
    if message.author.bot or message.channel.name != OPS_CHANNEL:
        return
    if message.content.startswith("!ping "):
        host = message.content.split(maxsplit=1)[1]
        await message.channel.send(await ping(host))
''',
     '''import asyncio

import discord

intents = discord.Intents.default()
intents.message_content = True
bot = discord.Client(intents=intents)
OPS_CHANNEL = "ops-chat"


async def ping(host: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "ping", "-c", "3", "-W", "2", host,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return out.decode(errors="replace")[-1800:]


@bot.event
async def on_message(message):
    if message.author.bot or message.channel.name != OPS_CHANNEL:
        return
    if message.content.startswith("!ping "):
        host = message.content.split(maxsplit=1)[1]
        await message.channel.send(await ping(host))
'''),
    ("shell-injection",
     '''"""Report the duration of every clip listed in a CSV manifest of uploads."""
import csv
import json
import os


def duration_seconds(clip_path):
    raw = os.popen(f"ffprobe -v error -show_entries format=duration -of json '{clip_path}'").read()
    return float(json.loads(raw)["format"]["duration"])


def process_manifest(manifest_path):
    with open(manifest_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    summary = []
    for row in rows:
        seconds = duration_seconds(row["path"])
        summary.append({"id": row["id"], "seconds": round(seconds, 1), "long": seconds > 600})
    return summary


if __name__ == "__main__":
    for item in process_manifest("uploads.csv"):
        print(item)
''',
     '''"""Report the duration of every clip listed in a CSV manifest of uploads."""
import csv
import json
import subprocess


def duration_seconds(clip_path):
    cmd = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", clip_path]
    raw = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(json.loads(raw)["format"]["duration"])


def process_manifest(manifest_path):
    with open(manifest_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    summary = []
    for row in rows:
        seconds = duration_seconds(row["path"])
        summary.append({"id": row["id"], "seconds": round(seconds, 1), "long": seconds > 600})
    return summary


if __name__ == "__main__":
    for item in process_manifest("uploads.csv"):
        print(item)
'''),
    ("shell-injection",
     '''#!/usr/bin/env python3
import datetime
import subprocess
import sys

BACKUP_ROOT = "/var/backups/nightly"


def free_space_report():
    return subprocess.run(["df", "-h", BACKUP_ROOT], capture_output=True, text=True, check=True).stdout


def archive(label, directories):
    stamp = datetime.date.today().isoformat()
    target = f"{BACKUP_ROOT}/{label}-{stamp}.tar.gz"
    subprocess.run("tar -czf " + target + " " + " ".join(directories), shell=True, check=True)
    return target


def main(argv):
    if len(argv) < 3:
        print("usage: backup.py LABEL DIR [DIR ...]", file=sys.stderr)
        return 2
    path = archive(argv[1], argv[2:])
    print(f"wrote {path}")
    print(free_space_report())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
''',
     '''#!/usr/bin/env python3
import datetime
import subprocess
import sys

BACKUP_ROOT = "/var/backups/nightly"


def free_space_report():
    return subprocess.run(["df", "-h", BACKUP_ROOT], capture_output=True, text=True, check=True).stdout


def archive(label, directories):
    stamp = datetime.date.today().isoformat()
    target = f"{BACKUP_ROOT}/{label}-{stamp}.tar.gz"
    subprocess.run(["tar", "-czf", target, "--", *directories], check=True)
    return target


def main(argv):
    if len(argv) < 3:
        print("usage: backup.py LABEL DIR [DIR ...]", file=sys.stderr)
        return 2
    path = archive(argv[1], argv[2:])
    print(f"wrote {path}")
    print(free_space_report())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''),
    ("shell-injection",
     '''import subprocess

import tornado.ioloop
import tornado.web

REPO = "/srv/git/handbook"


class BlameHandler(tornado.web.RequestHandler):
    def get(self):
        path = self.get_argument("path")
        start = int(self.get_argument("start", "1"))
        end = int(self.get_argument("end", str(start + 20)))
        cmd = "git -C %s blame -L %d,%d -- %s" % (REPO, start, end, path)
        output = subprocess.check_output(cmd, shell=True, text=True)
        self.set_header("Content-Type", "text/plain")
        self.write(output)


def make_app():
    return tornado.web.Application([(r"/blame", BlameHandler)])


if __name__ == "__main__":
    make_app().listen(8890, address="127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
''',
     '''import subprocess

import tornado.ioloop
import tornado.web

REPO = "/srv/git/handbook"


class BlameHandler(tornado.web.RequestHandler):
    def get(self):
        path = self.get_argument("path")
        start = int(self.get_argument("start", "1"))
        end = int(self.get_argument("end", str(start + 20)))
        cmd = ["git", "-C", REPO, "blame", "-L", f"{start},{end}", "--", path]
        output = subprocess.check_output(cmd, text=True)
        self.set_header("Content-Type", "text/plain")
        self.write(output)


def make_app():
    return tornado.web.Application([(r"/blame", BlameHandler)])


if __name__ == "__main__":
    make_app().listen(8890, address="127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
'''),
    ("shell-injection",
     '''"""Download and unpack a dataset shard before training."""
import argparse
import os

import numpy as np
import torch
from torch.utils.data import TensorDataset

CACHE = os.path.expanduser("~/.cache/shards")


def fetch_shard(url: str, name: str) -> str:
    os.makedirs(CACHE, exist_ok=True)
    archive = os.path.join(CACHE, name + ".tar")
    if not os.path.exists(archive):
        status = os.system(f"curl -fsSL {url} -o {archive} && tar -xf {archive} -C {CACHE}")
        if status != 0:
            raise RuntimeError(f"download of {name} failed")
    return os.path.join(CACHE, name)


def load(shard_dir: str) -> TensorDataset:
    features = np.load(os.path.join(shard_dir, "x.npy"))
    labels = np.load(os.path.join(shard_dir, "y.npy"))
    return TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", default="train-00")
    args = parser.parse_args()
    data = load(fetch_shard(args.url, args.name))
    print(len(data), "examples")
''',
     '''"""Download and unpack a dataset shard before training."""
import argparse
import os
import shlex

import numpy as np
import torch
from torch.utils.data import TensorDataset

CACHE = os.path.expanduser("~/.cache/shards")


def fetch_shard(url: str, name: str) -> str:
    os.makedirs(CACHE, exist_ok=True)
    archive = os.path.join(CACHE, name + ".tar")
    if not os.path.exists(archive):
        src, dst = shlex.quote(url), shlex.quote(archive)
        status = os.system(f"curl -fsSL {src} -o {dst} && tar -xf {dst} -C {shlex.quote(CACHE)}")
        if status != 0:
            raise RuntimeError(f"download of {name} failed")
    return os.path.join(CACHE, name)


def load(shard_dir: str) -> TensorDataset:
    features = np.load(os.path.join(shard_dir, "x.npy"))
    labels = np.load(os.path.join(shard_dir, "y.npy"))
    return TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", default="train-00")
    args = parser.parse_args()
    data = load(fetch_shard(args.url, args.name))
    print(len(data), "examples")
'''),
    ("shell-injection",
     '''import subprocess

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

RECORD_TYPES = {"A", "AAAA", "MX", "TXT", "NS"}


async def lookup(request):
    name = request.query_params.get("name", "")
    rtype = request.query_params.get("type", "A").upper()
    if rtype not in RECORD_TYPES:
        return JSONResponse({"error": "unsupported record type"}, status_code=400)
    answer = subprocess.getoutput(f"dig +short {rtype} {name}")
    return JSONResponse({"name": name, "type": rtype, "answers": answer.split()})


app = Starlette(routes=[Route("/dns", lookup)])
''',
     '''import subprocess

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

RECORD_TYPES = {"A", "AAAA", "MX", "TXT", "NS"}


async def lookup(request):
    name = request.query_params.get("name", "")
    rtype = request.query_params.get("type", "A").upper()
    if rtype not in RECORD_TYPES:
        return JSONResponse({"error": "unsupported record type"}, status_code=400)
    answer = subprocess.run(["dig", "+short", rtype, name], capture_output=True, text=True).stdout
    return JSONResponse({"name": name, "type": rtype, "answers": answer.split()})


app = Starlette(routes=[Route("/dns", lookup)])
'''),
    ("eval-input",
     r'''"""Train a small classifier; hyperparameters can be overridden with --set key=value."""
import argparse

import torch
from torch import nn

DEFAULTS = {"lr": 3e-4, "hidden": [256, 128], "epochs": 10, "dropout": 0.1}


def parse_overrides(pairs):
    config = dict(DEFAULTS)
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in config:
            raise SystemExit(f"unknown hyperparameter: {key}")
        config[key] = eval(value)
    return config


def build_model(config, n_in=784, n_out=10):
    layers, width = [], n_in
    for h in config["hidden"]:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(config["dropout"])]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, n_out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", default=[])
    cfg = parse_overrides(parser.parse_args().set)
    model = build_model(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"])
    print(model, optimizer, sep="\n")
''',
     r'''"""Train a small classifier; hyperparameters can be overridden with --set key=value."""
import argparse
import ast

import torch
from torch import nn

DEFAULTS = {"lr": 3e-4, "hidden": [256, 128], "epochs": 10, "dropout": 0.1}


def parse_overrides(pairs):
    config = dict(DEFAULTS)
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in config:
            raise SystemExit(f"unknown hyperparameter: {key}")
        config[key] = ast.literal_eval(value)
    return config


def build_model(config, n_in=784, n_out=10):
    layers, width = [], n_in
    for h in config["hidden"]:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(config["dropout"])]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, n_out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", action="append", default=[])
    cfg = parse_overrides(parser.parse_args().set)
    model = build_model(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"])
    print(model, optimizer, sep="\n")
'''),
    ("eval-input",
     '''"""Residuals of a calibration run against the polynomial stored in the data file's header."""
import sys

import numpy as np


def read_run(path):
    with open(path) as fh:
        header = fh.readline().lstrip("#").strip()
        data = np.loadtxt(fh, delimiter=",")
    coeffs = eval(header)
    return np.asarray(coeffs, dtype=float), data[:, 0], data[:, 1]


def residuals(coeffs, x, y):
    model = np.polyval(coeffs, x)
    return y - model


if __name__ == "__main__":
    coeffs, x, y = read_run(sys.argv[1])
    r = residuals(coeffs, x, y)
    print(f"rms residual: {np.sqrt(np.mean(r ** 2)):.4g}")
    print(f"worst point: x={x[np.argmax(np.abs(r))]:.3f}")
''',
     '''"""Residuals of a calibration run against the polynomial stored in the data file's header."""
import json
import sys

import numpy as np


def read_run(path):
    with open(path) as fh:
        header = fh.readline().lstrip("#").strip()
        data = np.loadtxt(fh, delimiter=",")
    coeffs = json.loads(header)
    return np.asarray(coeffs, dtype=float), data[:, 0], data[:, 1]


def residuals(coeffs, x, y):
    model = np.polyval(coeffs, x)
    return y - model


if __name__ == "__main__":
    coeffs, x, y = read_run(sys.argv[1])
    r = residuals(coeffs, x, y)
    print(f"rms residual: {np.sqrt(np.mean(r ** 2)):.4g}")
    print(f"worst point: x={x[np.argmax(np.abs(r))]:.3f}")
'''),
    ("eval-input",
     '''import math

import pandas as pd

TRANSFORMS = {
    "log1p": math.log1p,
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
}


def apply_spec(df: pd.DataFrame, spec: dict[str, str]) -> pd.DataFrame:
    out = df.copy()
    for column, transform_name in spec.items():
        func = eval(transform_name, {}, TRANSFORMS)
        out[column] = out[column].map(func)
    return out


if __name__ == "__main__":
    frame = pd.read_csv("measurements.csv")
    spec = dict(item.split(":") for item in input("transforms (col:func,...): ").split(","))
    print(apply_spec(frame, spec).describe())
''',
     '''import math

import pandas as pd

TRANSFORMS = {
    "log1p": math.log1p,
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
}


def apply_spec(df: pd.DataFrame, spec: dict[str, str]) -> pd.DataFrame:
    out = df.copy()
    for column, transform_name in spec.items():
        func = TRANSFORMS[transform_name]
        out[column] = out[column].map(func)
    return out


if __name__ == "__main__":
    frame = pd.read_csv("measurements.csv")
    spec = dict(item.split(":") for item in input("transforms (col:func,...): ").split(","))
    print(apply_spec(frame, spec).describe())
'''),
    ("eval-input",
     '''"""Worker that resizes images for the jobs the web app pushes onto a Redis list."""
import redis
from PIL import Image

r = redis.Redis(host="queue.internal")
SIZES = {"thumb": (128, 128), "medium": (640, 640)}


def handle(job):
    src, size_name, options = job
    img = Image.open(src)
    img.thumbnail(SIZES[size_name])
    out = src.rsplit(".", 1)[0] + f"_{size_name}.webp"
    img.save(out, "WEBP", quality=options.get("quality", 80))
    return out


def main():
    while True:
        _, raw = r.blpop("resize-jobs")
        job = eval(raw.decode())
        print("done:", handle(job))


if __name__ == "__main__":
    main()
''',
     '''"""Worker that resizes images for the jobs the web app pushes onto a Redis list."""
import ast

import redis
from PIL import Image

r = redis.Redis(host="queue.internal")
SIZES = {"thumb": (128, 128), "medium": (640, 640)}


def handle(job):
    src, size_name, options = job
    img = Image.open(src)
    img.thumbnail(SIZES[size_name])
    out = src.rsplit(".", 1)[0] + f"_{size_name}.webp"
    img.save(out, "WEBP", quality=options.get("quality", 80))
    return out


def main():
    while True:
        _, raw = r.blpop("resize-jobs")
        job = ast.literal_eval(raw.decode())
        print("done:", handle(job))


if __name__ == "__main__":
    main()
'''),
    ("eval-input",
     '''"""Tag statistics of scraped product listings; an earlier step wrote the tags column as lists."""
import sys
from collections import Counter

import pandas as pd


def load_listings(path: str) -> pd.DataFrame:
    df = pd.read_csv(path)
    df["tags"] = df["tags"].fillna("[]").map(eval)
    df["n_tags"] = df["tags"].map(len)
    return df


def top_tags(df: pd.DataFrame, k: int = 20) -> list[tuple[str, int]]:
    counts = Counter(tag for tags in df["tags"] for tag in tags)
    return counts.most_common(k)


if __name__ == "__main__":
    listings = load_listings(sys.argv[1])
    print(f"{len(listings)} listings, {listings['n_tags'].mean():.1f} tags on average")
    for tag, n in top_tags(listings):
        print(f"{n:6d}  {tag}")
''',
     '''"""Tag statistics of scraped product listings; an earlier step wrote the tags column as lists."""
import ast
import sys
from collections import Counter

import pandas as pd


def load_listings(path: str) -> pd.DataFrame:
    df = pd.read_csv(path)
    df["tags"] = df["tags"].fillna("[]").map(ast.literal_eval)
    df["n_tags"] = df["tags"].map(len)
    return df


def top_tags(df: pd.DataFrame, k: int = 20) -> list[tuple[str, int]]:
    counts = Counter(tag for tags in df["tags"] for tag in tags)
    return counts.most_common(k)


if __name__ == "__main__":
    listings = load_listings(sys.argv[1])
    print(f"{len(listings)} listings, {listings['n_tags'].mean():.1f} tags on average")
    for tag, n in top_tags(listings):
        print(f"{n:6d}  {tag}")
'''),
    ("eval-input",
     '''from aiohttp import WSMsgType, web

BOARD_SIZE = 15
boards: dict[str, list[list[str]]] = {}


async def play(request):
    room = request.match_info["room"]
    board = boards.setdefault(room, [["." for _ in range(BOARD_SIZE)] for _ in range(BOARD_SIZE)])
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        row, col, stone = eval(msg.data)
        if 0 <= row < BOARD_SIZE and 0 <= col < BOARD_SIZE and board[row][col] == ".":
            board[row][col] = stone
        await ws.send_json({"board": ["".join(r) for r in board]})
    return ws


app = web.Application()
app.add_routes([web.get("/rooms/{room}", play)])

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=8081)
''',
     '''import json

from aiohttp import WSMsgType, web

BOARD_SIZE = 15
boards: dict[str, list[list[str]]] = {}


async def play(request):
    room = request.match_info["room"]
    board = boards.setdefault(room, [["." for _ in range(BOARD_SIZE)] for _ in range(BOARD_SIZE)])
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        row, col, stone = json.loads(msg.data)
        if 0 <= row < BOARD_SIZE and 0 <= col < BOARD_SIZE and board[row][col] == ".":
            board[row][col] = stone
        await ws.send_json({"board": ["".join(r) for r in board]})
    return ws


app = web.Application()
app.add_routes([web.get("/rooms/{room}", play)])

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=8081)
'''),
    ("deserialization",
     '''"""Evaluation server for the course leaderboard: students upload their trained weights."""
import torch
from fastapi import FastAPI, File, UploadFile
from torchvision.models import resnet18

from grading import test_loader

app = FastAPI()


@app.post("/submit/{student_id}")
async def submit(student_id: str, weights: UploadFile = File(...)):
    path = f"/srv/submissions/{student_id}.pt"
    with open(path, "wb") as fh:
        fh.write(await weights.read())
    model = resnet18(num_classes=10)
    model.load_state_dict(torch.load(path, map_location="cpu"))
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in test_loader():
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            total += len(labels)
    return {"student": student_id, "accuracy": round(correct / total, 4)}
''',
     '''"""Evaluation server for the course leaderboard: students upload their trained weights."""
import torch
from fastapi import FastAPI, File, UploadFile
from torchvision.models import resnet18

from grading import test_loader

app = FastAPI()


@app.post("/submit/{student_id}")
async def submit(student_id: str, weights: UploadFile = File(...)):
    path = f"/srv/submissions/{student_id}.pt"
    with open(path, "wb") as fh:
        fh.write(await weights.read())
    model = resnet18(num_classes=10)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in test_loader():
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            total += len(labels)
    return {"student": student_id, "accuracy": round(correct / total, 4)}
'''),
    ("deserialization",
     '''import pickle
from functools import wraps

import redis
from flask import Flask, jsonify, request

app = Flask(__name__)
cache = redis.Redis(host="cache.internal", port=6379)


def cached(ttl):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            key = "view:" + request.full_path
            hit = cache.get(key)
            if hit is not None:
                return jsonify(pickle.loads(hit))
            result = view(*args, **kwargs)
            cache.setex(key, ttl, pickle.dumps(result))
            return jsonify(result)
        return wrapper
    return decorator


@app.get("/stats/<team>")
@cached(ttl=120)
def team_stats(team):
    return {"team": team, "wins": 12, "losses": 4}
''',
     '''import json
from functools import wraps

import redis
from flask import Flask, jsonify, request

app = Flask(__name__)
cache = redis.Redis(host="cache.internal", port=6379)


def cached(ttl):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            key = "view:" + request.full_path
            hit = cache.get(key)
            if hit is not None:
                return jsonify(json.loads(hit))
            result = view(*args, **kwargs)
            cache.setex(key, ttl, json.dumps(result))
            return jsonify(result)
        return wrapper
    return decorator


@app.get("/stats/<team>")
@cached(ttl=120)
def team_stats(team):
    return {"team": team, "wins": 12, "losses": 4}
'''),
    ("deserialization",
     '''import jsonpickle
from fastapi import FastAPI, Request
from pydantic import BaseModel

app = FastAPI()


class Preferences(BaseModel):
    theme: str = "light"
    language: str = "en"
    page_size: int = 25


PREFS: dict[str, Preferences] = {}


@app.put("/users/{user_id}/preferences")
async def save_preferences(user_id: str, request: Request):
    body = await request.body()
    data = jsonpickle.decode(body)
    PREFS[user_id] = Preferences(**data)
    return PREFS[user_id]


@app.get("/users/{user_id}/preferences")
async def get_preferences(user_id: str):
    return PREFS.get(user_id, Preferences())
''',
     '''import json

from fastapi import FastAPI, Request
from pydantic import BaseModel

app = FastAPI()


class Preferences(BaseModel):
    theme: str = "light"
    language: str = "en"
    page_size: int = 25


PREFS: dict[str, Preferences] = {}


@app.put("/users/{user_id}/preferences")
async def save_preferences(user_id: str, request: Request):
    body = await request.body()
    data = json.loads(body)
    PREFS[user_id] = Preferences(**data)
    return PREFS[user_id]


@app.get("/users/{user_id}/preferences")
async def get_preferences(user_id: str):
    return PREFS.get(user_id, Preferences())
'''),
    ("deserialization",
     '''"""Merge a repository's CI config with the organisation defaults and print the result."""
import sys

import yaml

ORG_DEFAULTS = {"timeout_minutes": 30, "runner": "ubuntu-22.04", "cache": True}


def load_pipeline(path):
    with open(path) as fh:
        return yaml.load(fh, Loader=yaml.Loader) or {}


def merge(defaults, pipeline):
    jobs = {}
    for name, job in pipeline.get("jobs", {}).items():
        jobs[name] = {**defaults, **job}
    return {"jobs": jobs}


if __name__ == "__main__":
    merged = merge(ORG_DEFAULTS, load_pipeline(sys.argv[1]))
    yaml.safe_dump(merged, sys.stdout, sort_keys=False)
''',
     '''"""Merge a repository's CI config with the organisation defaults and print the result."""
import sys

import yaml

ORG_DEFAULTS = {"timeout_minutes": 30, "runner": "ubuntu-22.04", "cache": True}


def load_pipeline(path):
    with open(path) as fh:
        return yaml.safe_load(fh) or {}


def merge(defaults, pipeline):
    jobs = {}
    for name, job in pipeline.get("jobs", {}).items():
        jobs[name] = {**defaults, **job}
    return {"jobs": jobs}


if __name__ == "__main__":
    merged = merge(ORG_DEFAULTS, load_pipeline(sys.argv[1]))
    yaml.safe_dump(merged, sys.stdout, sort_keys=False)
'''),
    ("deserialization",
     '''"""Model zoo service: users upload .keras models and get their inference latency on a fixed batch."""
import tempfile
import time

import keras
import numpy as np
from flask import Flask, abort, request

app = Flask(__name__)
BATCH = np.random.default_rng(0).normal(size=(32, 224, 224, 3)).astype("float32")


@app.post("/benchmark")
def benchmark():
    upload = request.files.get("model")
    if upload is None or not upload.filename.endswith(".keras"):
        abort(400, "expected a .keras file")
    with tempfile.NamedTemporaryFile(suffix=".keras") as tmp:
        upload.save(tmp.name)
        model = keras.saving.load_model(tmp.name, safe_mode=False)
    model.predict(BATCH[:1], verbose=0)
    start = time.perf_counter()
    for _ in range(10):
        model.predict(BATCH, verbose=0)
    per_batch = (time.perf_counter() - start) / 10
    return {"params": model.count_params(), "ms_per_batch": round(per_batch * 1000, 2)}
''',
     '''"""Model zoo service: users upload .keras models and get their inference latency on a fixed batch."""
import tempfile
import time

import keras
import numpy as np
from flask import Flask, abort, request

app = Flask(__name__)
BATCH = np.random.default_rng(0).normal(size=(32, 224, 224, 3)).astype("float32")


@app.post("/benchmark")
def benchmark():
    upload = request.files.get("model")
    if upload is None or not upload.filename.endswith(".keras"):
        abort(400, "expected a .keras file")
    with tempfile.NamedTemporaryFile(suffix=".keras") as tmp:
        upload.save(tmp.name)
        model = keras.saving.load_model(tmp.name)
    model.predict(BATCH[:1], verbose=0)
    start = time.perf_counter()
    for _ in range(10):
        model.predict(BATCH, verbose=0)
    per_batch = (time.perf_counter() - start) / 10
    return {"params": model.count_params(), "ms_per_batch": round(per_batch * 1000, 2)}
'''),
    ("deserialization",
     '''"""Save slots for the dungeon crawler; players trade save files on the community forum."""
import os
from dataclasses import dataclass, field

import dill

SAVE_DIR = os.path.expanduser("~/.local/share/dungeon/saves")


@dataclass
class Hero:
    name: str
    level: int = 1
    hp: int = 20
    inventory: list = field(default_factory=list)


def save_game(hero: Hero, slot: int) -> None:
    os.makedirs(SAVE_DIR, exist_ok=True)
    with open(os.path.join(SAVE_DIR, f"slot{slot}.sav"), "wb") as fh:
        dill.dump(hero, fh)


def load_game(slot: int) -> Hero:
    with open(os.path.join(SAVE_DIR, f"slot{slot}.sav"), "rb") as fh:
        return dill.load(fh)
''',
     '''"""Save slots for the dungeon crawler; players trade save files on the community forum."""
import json
import os
from dataclasses import asdict, dataclass, field

SAVE_DIR = os.path.expanduser("~/.local/share/dungeon/saves")


@dataclass
class Hero:
    name: str
    level: int = 1
    hp: int = 20
    inventory: list = field(default_factory=list)


def save_game(hero: Hero, slot: int) -> None:
    os.makedirs(SAVE_DIR, exist_ok=True)
    with open(os.path.join(SAVE_DIR, f"slot{slot}.sav"), "w") as fh:
        json.dump(asdict(hero), fh)


def load_game(slot: int) -> Hero:
    with open(os.path.join(SAVE_DIR, f"slot{slot}.sav")) as fh:
        return Hero(**json.load(fh))
'''),
    ("sql-injection",
     r'''import sqlite3
import sys

DB = "notes.db"


def connect():
    conn = sqlite3.connect(DB)
    conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, tag TEXT, body TEXT)")
    return conn


def add_note(conn, tag, body):
    conn.execute("INSERT INTO notes (tag, body) VALUES (?, ?)", (tag, body))
    conn.commit()


def notes_with_tag(conn, tag):
    rows = conn.execute(f"SELECT id, body FROM notes WHERE tag = '{tag}' ORDER BY id").fetchall()
    return [f"{i}: {body}" for i, body in rows]


if __name__ == "__main__":
    conn = connect()
    if sys.argv[1] == "add":
        add_note(conn, sys.argv[2], " ".join(sys.argv[3:]))
    else:
        print("\n".join(notes_with_tag(conn, sys.argv[2])))
''',
     r'''import sqlite3
import sys

DB = "notes.db"


def connect():
    conn = sqlite3.connect(DB)
    conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, tag TEXT, body TEXT)")
    return conn


def add_note(conn, tag, body):
    conn.execute("INSERT INTO notes (tag, body) VALUES (?, ?)", (tag, body))
    conn.commit()


def notes_with_tag(conn, tag):
    rows = conn.execute("SELECT id, body FROM notes WHERE tag = ? ORDER BY id", (tag,)).fetchall()
    return [f"{i}: {body}" for i, body in rows]


if __name__ == "__main__":
    conn = connect()
    if sys.argv[1] == "add":
        add_note(conn, sys.argv[2], " ".join(sys.argv[3:]))
    else:
        print("\n".join(notes_with_tag(conn, sys.argv[2])))
'''),
    ("sql-injection",
     '''import psycopg
from flask import Flask, abort

app = Flask(__name__)
DSN = "dbname=crm host=db.internal user=crm_app"


@app.get("/customers/by-email/<email>")
def customer_by_email(email):
    with psycopg.connect(DSN) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, name, plan FROM customers WHERE email = '%s'" % email)
        row = cur.fetchone()
    if row is None:
        abort(404)
    return {"id": row[0], "name": row[1], "plan": row[2]}


@app.get("/customers/count")
def customer_count():
    with psycopg.connect(DSN) as conn:
        (n,) = conn.execute("SELECT count(*) FROM customers").fetchone()
    return {"customers": n}
''',
     '''import psycopg
from flask import Flask, abort

app = Flask(__name__)
DSN = "dbname=crm host=db.internal user=crm_app"


@app.get("/customers/by-email/<email>")
def customer_by_email(email):
    with psycopg.connect(DSN) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, name, plan FROM customers WHERE email = %s", (email,))
        row = cur.fetchone()
    if row is None:
        abort(404)
    return {"id": row[0], "name": row[1], "plan": row[2]}


@app.get("/customers/count")
def customer_count():
    with psycopg.connect(DSN) as conn:
        (n,) = conn.execute("SELECT count(*) FROM customers").fetchone()
    return {"customers": n}
'''),
    ("sql-injection",
     '''from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

engine = create_engine("postgresql+psycopg://reader@db/library")
SessionLocal = sessionmaker(bind=engine)
app = FastAPI()


def get_db():
    with SessionLocal() as session:
        yield session


@app.get("/books")
def search_books(author: str, year_from: int = 1900, db: Session = Depends(get_db)):
    query = text(
        f"SELECT isbn, title, year FROM books WHERE author ILIKE '%{author}%' AND year >= {year_from} ORDER BY year"
    )
    rows = db.execute(query).all()
    return [{"isbn": r.isbn, "title": r.title, "year": r.year} for r in rows]
''',
     '''from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

engine = create_engine("postgresql+psycopg://reader@db/library")
SessionLocal = sessionmaker(bind=engine)
app = FastAPI()


def get_db():
    with SessionLocal() as session:
        yield session


@app.get("/books")
def search_books(author: str, year_from: int = 1900, db: Session = Depends(get_db)):
    query = text(
        "SELECT isbn, title, year FROM books WHERE author ILIKE :pattern AND year >= :year_from ORDER BY year"
    )
    rows = db.execute(query, {"pattern": f"%{author}%", "year_from": year_from}).all()
    return [{"isbn": r.isbn, "title": r.title, "year": r.year} for r in rows]
'''),
    ("sql-injection",
     '''"""Nightly job: mark shipments delivered from the carrier's CSV export."""
import csv
import sys

import mysql.connector


def main(csv_path):
    conn = mysql.connector.connect(option_files="/etc/shipping/my.cnf")
    cur = conn.cursor()
    updated = 0
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["status"].lower() != "delivered":
                continue
            cur.execute(
                "UPDATE shipments SET delivered_at = '{}' WHERE tracking_no = '{}'".format(row["time"], row["tracking"])
            )
            updated += cur.rowcount
    conn.commit()
    conn.close()
    print(f"{updated} shipments marked delivered")


if __name__ == "__main__":
    main(sys.argv[1])
''',
     '''"""Nightly job: mark shipments delivered from the carrier's CSV export."""
import csv
import sys

import mysql.connector


def main(csv_path):
    conn = mysql.connector.connect(option_files="/etc/shipping/my.cnf")
    cur = conn.cursor()
    updated = 0
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["status"].lower() != "delivered":
                continue
            cur.execute(
                "UPDATE shipments SET delivered_at = %s WHERE tracking_no = %s", (row["time"], row["tracking"])
            )
            updated += cur.rowcount
    conn.commit()
    conn.close()
    print(f"{updated} shipments marked delivered")


if __name__ == "__main__":
    main(sys.argv[1])
'''),
    ("sql-injection",
     '''from django.core.paginator import Paginator
from django.shortcuts import render

from .models import Product


def product_search(request):
    term = request.GET.get("q", "").strip()
    products = Product.objects.raw(
        f"SELECT * FROM shop_product WHERE active = 1 AND name LIKE '%{term}%' ORDER BY name"
    )
    page = Paginator(list(products), 24).get_page(request.GET.get("page"))
    return render(request, "shop/search.html", {"page": page, "term": term})
''',
     '''from django.core.paginator import Paginator
from django.shortcuts import render

from .models import Product


def product_search(request):
    term = request.GET.get("q", "").strip()
    products = Product.objects.raw(
        "SELECT * FROM shop_product WHERE active = 1 AND name LIKE %s ORDER BY name", [f"%{term}%"]
    )
    page = Paginator(list(products), 24).get_page(request.GET.get("page"))
    return render(request, "shop/search.html", {"page": page, "term": term})
'''),
    ("sql-injection",
     r'''import aiosqlite
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

DB_PATH = "quotes.db"


async def add_quote(update: Update, context: ContextTypes.DEFAULT_TYPE):
    text = " ".join(context.args)
    async with aiosqlite.connect(DB_PATH) as db:
        await db.execute("INSERT INTO quotes (author, text) VALUES (?, ?)", (update.effective_user.username, text))
        await db.commit()
    await update.message.reply_text("saved")


async def find_quote(update: Update, context: ContextTypes.DEFAULT_TYPE):
    term = " ".join(context.args)
    async with aiosqlite.connect(DB_PATH) as db:
        cursor = await db.execute("SELECT author, text FROM quotes WHERE text LIKE '%" + term + "%' LIMIT 5")
        rows = await cursor.fetchall()
    reply = "\n".join(f"{author}: {text}" for author, text in rows) or "no match"
    await update.message.reply_text(reply)


def main():
    with open("bot_token.txt") as fh:
        app = Application.builder().token(fh.read().strip()).build()
    app.add_handler(CommandHandler("addquote", add_quote))
    app.add_handler(CommandHandler("quote", find_quote))
    app.run_polling()


if __name__ == "__main__":
    main()
''',
     r'''import aiosqlite
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

DB_PATH = "quotes.db"


async def add_quote(update: Update, context: ContextTypes.DEFAULT_TYPE):
    text = " ".join(context.args)
    async with aiosqlite.connect(DB_PATH) as db:
        await db.execute("INSERT INTO quotes (author, text) VALUES (?, ?)", (update.effective_user.username, text))
        await db.commit()
    await update.message.reply_text("saved")


async def find_quote(update: Update, context: ContextTypes.DEFAULT_TYPE):
    term = " ".join(context.args)
    async with aiosqlite.connect(DB_PATH) as db:
        cursor = await db.execute("SELECT author, text FROM quotes WHERE text LIKE ? LIMIT 5", (f"%{term}%",))
        rows = await cursor.fetchall()
    reply = "\n".join(f"{author}: {text}" for author, text in rows) or "no match"
    await update.message.reply_text(reply)


def main():
    with open("bot_token.txt") as fh:
        app = Application.builder().token(fh.read().strip()).build()
    app.add_handler(CommandHandler("addquote", add_quote))
    app.add_handler(CommandHandler("quote", find_quote))
    app.run_polling()


if __name__ == "__main__":
    main()
'''),
    ("weak-password-hash",
     '''import hashlib
import sqlite3

from flask import Flask, request, session

app = Flask(__name__)
with open("/run/secrets/flask_key", "rb") as _fh:
    app.secret_key = _fh.read()


def db():
    return sqlite3.connect("members.db")


def hash_password(password: str) -> str:
    return hashlib.md5(password.encode()).hexdigest()


def check_password(password: str, stored: str) -> bool:
    return hash_password(password) == stored


@app.post("/signup")
def signup():
    with db() as conn:
        conn.execute("INSERT INTO members (login, pw) VALUES (?, ?)",
                     (request.form["login"], hash_password(request.form["password"])))
    return {"ok": True}


@app.post("/login")
def login():
    row = db().execute("SELECT pw FROM members WHERE login = ?", (request.form["login"],)).fetchone()
    if row is None or not check_password(request.form["password"], row[0]):
        return {"ok": False}, 401
    session["login"] = request.form["login"]
    return {"ok": True}
''',
     '''import sqlite3

import bcrypt
from flask import Flask, request, session

app = Flask(__name__)
with open("/run/secrets/flask_key", "rb") as _fh:
    app.secret_key = _fh.read()


def db():
    return sqlite3.connect("members.db")


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def check_password(password: str, stored: str) -> bool:
    return bcrypt.checkpw(password.encode(), stored.encode())


@app.post("/signup")
def signup():
    with db() as conn:
        conn.execute("INSERT INTO members (login, pw) VALUES (?, ?)",
                     (request.form["login"], hash_password(request.form["password"])))
    return {"ok": True}


@app.post("/login")
def login():
    row = db().execute("SELECT pw FROM members WHERE login = ?", (request.form["login"],)).fetchone()
    if row is None or not check_password(request.form["password"], row[0]):
        return {"ok": False}, 401
    session["login"] = request.form["login"]
    return {"ok": True}
'''),
    ("weak-password-hash",
     '''"""User store for the intranet file drop: accounts in a JSON file, uploads checksummed."""
import hashlib
import hmac
import json
import os

USERS_FILE = "users.json"


def file_checksum(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def make_record(password):
    salt = os.urandom(16)
    digest = hashlib.sha1(salt + password.encode()).digest()
    return {"salt": salt.hex(), "hash": digest.hex()}


def verify(record, password):
    salt = bytes.fromhex(record["salt"])
    digest = hashlib.sha1(salt + password.encode()).digest()
    return hmac.compare_digest(digest.hex(), record["hash"])


def add_user(name, password):
    users = {}
    if os.path.exists(USERS_FILE):
        with open(USERS_FILE) as fh:
            users = json.load(fh)
    users[name] = make_record(password)
    with open(USERS_FILE, "w") as fh:
        json.dump(users, fh, indent=2)
''',
     '''"""User store for the intranet file drop: accounts in a JSON file, uploads checksummed."""
import hashlib
import hmac
import json
import os

USERS_FILE = "users.json"


def file_checksum(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def make_record(password):
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000)
    return {"salt": salt.hex(), "hash": digest.hex()}


def verify(record, password):
    salt = bytes.fromhex(record["salt"])
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000)
    return hmac.compare_digest(digest.hex(), record["hash"])


def add_user(name, password):
    users = {}
    if os.path.exists(USERS_FILE):
        with open(USERS_FILE) as fh:
            users = json.load(fh)
    users[name] = make_record(password)
    with open(USERS_FILE, "w") as fh:
        json.dump(users, fh, indent=2)
'''),
    ("weak-password-hash",
     '''#!/usr/bin/env python3
"""Create or reset an admin account for the billing dashboard."""
import argparse
import getpass
import hashlib

import psycopg


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email")
    parser.add_argument("--dsn", default="dbname=billing")
    args = parser.parse_args()
    password = getpass.getpass("new password: ")
    if len(password) < 12 or password != getpass.getpass("repeat: "):
        raise SystemExit("passwords must match and be at least 12 characters")
    pw_hash = hashlib.sha256(password.encode("utf-8")).hexdigest()
    with psycopg.connect(args.dsn) as conn:
        conn.execute(
            "INSERT INTO admins (email, pw_hash) VALUES (%s, %s) "
            "ON CONFLICT (email) DO UPDATE SET pw_hash = EXCLUDED.pw_hash",
            (args.email, pw_hash),
        )
    print(f"admin {args.email} saved")


if __name__ == "__main__":
    main()
''',
     '''#!/usr/bin/env python3
"""Create or reset an admin account for the billing dashboard."""
import argparse
import getpass

import psycopg
from argon2 import PasswordHasher


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email")
    parser.add_argument("--dsn", default="dbname=billing")
    args = parser.parse_args()
    password = getpass.getpass("new password: ")
    if len(password) < 12 or password != getpass.getpass("repeat: "):
        raise SystemExit("passwords must match and be at least 12 characters")
    pw_hash = PasswordHasher().hash(password)
    with psycopg.connect(args.dsn) as conn:
        conn.execute(
            "INSERT INTO admins (email, pw_hash) VALUES (%s, %s) "
            "ON CONFLICT (email) DO UPDATE SET pw_hash = EXCLUDED.pw_hash",
            (args.email, pw_hash),
        )
    print(f"admin {args.email} saved")


if __name__ == "__main__":
    main()
'''),
    ("weak-password-hash",
     '''import hashlib
import secrets
from dataclasses import dataclass


@dataclass
class Account:
    username: str
    salt: bytes
    pw_hash: bytes

    @staticmethod
    def _digest(password: str, salt: bytes) -> bytes:
        return hashlib.sha512(salt + password.encode()).digest()

    @classmethod
    def create(cls, username: str, password: str) -> "Account":
        salt = secrets.token_bytes(16)
        return cls(username, salt, cls._digest(password, salt))

    def check(self, password: str) -> bool:
        return secrets.compare_digest(self._digest(password, self.salt), self.pw_hash)


class Registry:
    def __init__(self):
        self._accounts: dict[str, Account] = {}

    def register(self, username: str, password: str) -> None:
        if username in self._accounts:
            raise ValueError("username taken")
        self._accounts[username] = Account.create(username, password)

    def login(self, username: str, password: str) -> bool:
        account = self._accounts.get(username)
        return account is not None and account.check(password)
''',
     '''import hashlib
import secrets
from dataclasses import dataclass


@dataclass
class Account:
    username: str
    salt: bytes
    pw_hash: bytes

    @staticmethod
    def _digest(password: str, salt: bytes) -> bytes:
        return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)

    @classmethod
    def create(cls, username: str, password: str) -> "Account":
        salt = secrets.token_bytes(16)
        return cls(username, salt, cls._digest(password, salt))

    def check(self, password: str) -> bool:
        return secrets.compare_digest(self._digest(password, self.salt), self.pw_hash)


class Registry:
    def __init__(self):
        self._accounts: dict[str, Account] = {}

    def register(self, username: str, password: str) -> None:
        if username in self._accounts:
            raise ValueError("username taken")
        self._accounts[username] = Account.create(username, password)

    def login(self, username: str, password: str) -> bool:
        account = self._accounts.get(username)
        return account is not None and account.check(password)
'''),
    ("weak-password-hash",
     '''import csv

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Import staff accounts from the HR system's CSV export."

    def add_arguments(self, parser):
        parser.add_argument("csv_path")

    def handle(self, *args, **options):
        User = get_user_model()
        created = 0
        with open(options["csv_path"], newline="") as fh:
            for row in csv.DictReader(fh):
                user, was_new = User.objects.get_or_create(username=row["login"], defaults={"email": row["email"]})
                user.password = make_password(row["initial_password"], hasher="unsalted_md5")
                user.is_staff = True
                user.save()
                created += was_new
        self.stdout.write(f"{created} new staff accounts")
''',
     '''import csv

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Import staff accounts from the HR system's CSV export."

    def add_arguments(self, parser):
        parser.add_argument("csv_path")

    def handle(self, *args, **options):
        User = get_user_model()
        created = 0
        with open(options["csv_path"], newline="") as fh:
            for row in csv.DictReader(fh):
                user, was_new = User.objects.get_or_create(username=row["login"], defaults={"email": row["email"]})
                user.password = make_password(row["initial_password"])
                user.is_staff = True
                user.save()
                created += was_new
        self.stdout.write(f"{created} new staff accounts")
'''),
    ("weak-password-hash",
     '''import hashlib

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Player(Base):
    __tablename__ = "players"

    id: Mapped[int] = mapped_column(primary_key=True)
    nickname: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    rating: Mapped[int] = mapped_column(default=1200)

    def set_password(self, password: str) -> None:
        self.password_hash = hashlib.sha1(password.encode()).hexdigest()

    def check_password(self, password: str) -> bool:
        return self.password_hash == hashlib.sha1(password.encode()).hexdigest()
''',
     '''from passlib.context import CryptContext
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

pwd_context = CryptContext(schemes=["bcrypt"], deprecated="auto")


class Base(DeclarativeBase):
    pass


class Player(Base):
    __tablename__ = "players"

    id: Mapped[int] = mapped_column(primary_key=True)
    nickname: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    rating: Mapped[int] = mapped_column(default=1200)

    def set_password(self, password: str) -> None:
        self.password_hash = pwd_context.hash(password)

    def check_password(self, password: str) -> bool:
        return pwd_context.verify(password, self.password_hash)
'''),
    ("hardcoded-secret",
     '''import os
import random

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

SLACK_BOT_TOKEN = "xoxb-5120334-88213907-Kq2LmZ8vT3rW9xYp"
SLACK_APP_TOKEN = os.environ["SLACK_APP_TOKEN"]
PLACES = ["ramen bar", "falafel stand", "canteen", "taqueria", "noodle house"]

app = App(token=SLACK_BOT_TOKEN)


@app.command("/lunch")
def pick_lunch(ack, respond, command):
    ack()
    excluded = {p.strip() for p in (command.get("text") or "").split(",")}
    options = [p for p in PLACES if p not in excluded] or PLACES
    respond(f"Today's lunch: {random.choice(options)}")


if __name__ == "__main__":
    SocketModeHandler(app, SLACK_APP_TOKEN).start()
''',
     '''import os
import random

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

SLACK_BOT_TOKEN = os.environ["SLACK_BOT_TOKEN"]
SLACK_APP_TOKEN = os.environ["SLACK_APP_TOKEN"]
PLACES = ["ramen bar", "falafel stand", "canteen", "taqueria", "noodle house"]

app = App(token=SLACK_BOT_TOKEN)


@app.command("/lunch")
def pick_lunch(ack, respond, command):
    ack()
    excluded = {p.strip() for p in (command.get("text") or "").split(",")}
    options = [p for p in PLACES if p not in excluded] or PLACES
    respond(f"Today's lunch: {random.choice(options)}")


if __name__ == "__main__":
    SocketModeHandler(app, SLACK_APP_TOKEN).start()
'''),
    ("hardcoded-secret",
     '''import stripe
from fastapi import FastAPI, Header, HTTPException, Request

stripe.api_key = "sk_live_51Nq8ZbE2xKp7RtYv0aLmQ3"
WEBHOOK_SECRET = "whsec_Jm4pT9rV2xW8yZb1cD6eF0gH"
app = FastAPI()


@app.post("/stripe/webhook")
async def stripe_webhook(request: Request, stripe_signature: str = Header(...)):
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(payload, stripe_signature, WEBHOOK_SECRET)
    except (ValueError, stripe.error.SignatureVerificationError):
        raise HTTPException(status_code=400, detail="bad signature")
    if event["type"] == "invoice.paid":
        invoice = event["data"]["object"]
        print("paid:", invoice["customer"], invoice["amount_paid"])
    return {"received": True}
''',
     '''import os

import stripe
from fastapi import FastAPI, Header, HTTPException, Request

stripe.api_key = os.environ["STRIPE_API_KEY"]
WEBHOOK_SECRET = os.environ["STRIPE_WEBHOOK_SECRET"]
app = FastAPI()


@app.post("/stripe/webhook")
async def stripe_webhook(request: Request, stripe_signature: str = Header(...)):
    payload = await request.body()
    try:
        event = stripe.Webhook.construct_event(payload, stripe_signature, WEBHOOK_SECRET)
    except (ValueError, stripe.error.SignatureVerificationError):
        raise HTTPException(status_code=400, detail="bad signature")
    if event["type"] == "invoice.paid":
        invoice = event["data"]["object"]
        print("paid:", invoice["customer"], invoice["amount_paid"])
    return {"received": True}
'''),
    ("hardcoded-secret",
     '''"""Load yesterday's greenhouse sensor readings (parquet files) into the warehouse."""
import datetime as dt
import glob

import pandas as pd
from sqlalchemy import create_engine

engine = create_engine("postgresql+psycopg://etl_writer:Wq7!vR2#pLz9@warehouse.internal:5432/analytics")


def load_day(day: dt.date) -> int:
    files = sorted(glob.glob(f"/data/greenhouse/{day:%Y/%m/%d}/*.parquet"))
    if not files:
        return 0
    frame = pd.concat((pd.read_parquet(f) for f in files), ignore_index=True)
    frame["reading_date"] = day
    frame.to_sql("sensor_readings", engine, if_exists="append", index=False, chunksize=10_000)
    return len(frame)


if __name__ == "__main__":
    yesterday = dt.date.today() - dt.timedelta(days=1)
    print(f"loaded {load_day(yesterday)} rows for {yesterday}")
''',
     '''"""Load yesterday's greenhouse sensor readings (parquet files) into the warehouse."""
import datetime as dt
import glob
import os

import pandas as pd
from sqlalchemy import create_engine

engine = create_engine(os.environ["WAREHOUSE_URL"])


def load_day(day: dt.date) -> int:
    files = sorted(glob.glob(f"/data/greenhouse/{day:%Y/%m/%d}/*.parquet"))
    if not files:
        return 0
    frame = pd.concat((pd.read_parquet(f) for f in files), ignore_index=True)
    frame["reading_date"] = day
    frame.to_sql("sensor_readings", engine, if_exists="append", index=False, chunksize=10_000)
    return len(frame)


if __name__ == "__main__":
    yesterday = dt.date.today() - dt.timedelta(days=1)
    print(f"loaded {load_day(yesterday)} rows for {yesterday}")
'''),
    ("hardcoded-secret",
     '''from huggingface_hub import HfApi

HF_TOKEN = "hf_xQpLmR7tVz2KwN9bYc4JdE8sFgH3aU6o"
REPO_ID = "acme-research/sentiment-distilbert"


def push_checkpoint(folder: str, step: int) -> str:
    api = HfApi(token=HF_TOKEN)
    api.create_repo(REPO_ID, private=True, exist_ok=True)
    commit = api.upload_folder(
        folder_path=folder,
        repo_id=REPO_ID,
        commit_message=f"checkpoint at step {step}",
        ignore_patterns=["optimizer.pt", "*.tmp"],
    )
    return commit.oid


if __name__ == "__main__":
    import sys

    print(push_checkpoint(sys.argv[1], int(sys.argv[2])))
''',
     '''from huggingface_hub import HfApi, get_token

HF_TOKEN = get_token()
REPO_ID = "acme-research/sentiment-distilbert"


def push_checkpoint(folder: str, step: int) -> str:
    api = HfApi(token=HF_TOKEN)
    api.create_repo(REPO_ID, private=True, exist_ok=True)
    commit = api.upload_folder(
        folder_path=folder,
        repo_id=REPO_ID,
        commit_message=f"checkpoint at step {step}",
        ignore_patterns=["optimizer.pt", "*.tmp"],
    )
    return commit.oid


if __name__ == "__main__":
    import sys

    print(push_checkpoint(sys.argv[1], int(sys.argv[2])))
'''),
    ("hardcoded-secret",
     r'''#!/usr/bin/env python3
"""Mail the weekly disk-usage report to the ops list."""
import shutil
import smtplib
from email.message import EmailMessage

SMTP_HOST = "smtp.office365.com"
SMTP_USER = "reports@acme-corp.example"
SMTP_PASSWORD = "Spring2026!Reports"
RECIPIENTS = ["ops@acme-corp.example"]


def build_report(mounts=("/", "/srv", "/var/log")):
    lines = []
    for mount in mounts:
        usage = shutil.disk_usage(mount)
        lines.append(f"{mount:<10} {usage.used / usage.total:6.1%} used, {usage.free // 2**30} GiB free")
    return "\n".join(lines)


def send(body):
    msg = EmailMessage()
    msg["Subject"] = "Weekly disk usage"
    msg["From"] = SMTP_USER
    msg["To"] = ", ".join(RECIPIENTS)
    msg.set_content(body)
    with smtplib.SMTP(SMTP_HOST, 587) as smtp:
        smtp.starttls()
        smtp.login(SMTP_USER, SMTP_PASSWORD)
        smtp.send_message(msg)


if __name__ == "__main__":
    send(build_report())
''',
     r'''#!/usr/bin/env python3
"""Mail the weekly disk-usage report to the ops list."""
import shutil
import smtplib
from email.message import EmailMessage

import keyring

SMTP_HOST = "smtp.office365.com"
SMTP_USER = "reports@acme-corp.example"
SMTP_PASSWORD = keyring.get_password("smtp-reports", SMTP_USER)
RECIPIENTS = ["ops@acme-corp.example"]


def build_report(mounts=("/", "/srv", "/var/log")):
    lines = []
    for mount in mounts:
        usage = shutil.disk_usage(mount)
        lines.append(f"{mount:<10} {usage.used / usage.total:6.1%} used, {usage.free // 2**30} GiB free")
    return "\n".join(lines)


def send(body):
    msg = EmailMessage()
    msg["Subject"] = "Weekly disk usage"
    msg["From"] = SMTP_USER
    msg["To"] = ", ".join(RECIPIENTS)
    msg.set_content(body)
    with smtplib.SMTP(SMTP_HOST, 587) as smtp:
        smtp.starttls()
        smtp.login(SMTP_USER, SMTP_PASSWORD)
        smtp.send_message(msg)


if __name__ == "__main__":
    send(build_report())
'''),
    ("hardcoded-secret",
     '''import tornado.ioloop
import tornado.web

from accounts import check_credentials


class LoginHandler(tornado.web.RequestHandler):
    def post(self):
        user = self.get_body_argument("user")
        if not check_credentials(user, self.get_body_argument("password")):
            raise tornado.web.HTTPError(403)
        self.set_signed_cookie("user", user, httponly=True, secure=True)
        self.redirect("/")


class HomeHandler(tornado.web.RequestHandler):
    def get_current_user(self):
        value = self.get_signed_cookie("user")
        return value.decode() if value else None

    @tornado.web.authenticated
    def get(self):
        self.write(f"hello, {self.current_user}")


def make_app():
    return tornado.web.Application(
        [(r"/", HomeHandler), (r"/login", LoginHandler)],
        cookie_secret="Zk3vQ9mR2xT7wL5pN8yB4cF6hJ1dS0aE",
        login_url="/login",
    )


if __name__ == "__main__":
    make_app().listen(8000)
    tornado.ioloop.IOLoop.current().start()
''',
     '''import os

import tornado.ioloop
import tornado.web

from accounts import check_credentials


class LoginHandler(tornado.web.RequestHandler):
    def post(self):
        user = self.get_body_argument("user")
        if not check_credentials(user, self.get_body_argument("password")):
            raise tornado.web.HTTPError(403)
        self.set_signed_cookie("user", user, httponly=True, secure=True)
        self.redirect("/")


class HomeHandler(tornado.web.RequestHandler):
    def get_current_user(self):
        value = self.get_signed_cookie("user")
        return value.decode() if value else None

    @tornado.web.authenticated
    def get(self):
        self.write(f"hello, {self.current_user}")


def make_app():
    return tornado.web.Application(
        [(r"/", HomeHandler), (r"/login", LoginHandler)],
        cookie_secret=os.environ["COOKIE_SECRET"],
        login_url="/login",
    )


if __name__ == "__main__":
    make_app().listen(8000)
    tornado.ioloop.IOLoop.current().start()
'''),
    ("insecure-random",
     '''import random

from flask import Flask, jsonify, request

app = Flask(__name__)
sessions: dict[str, dict] = {}


def new_session_id() -> str:
    return random.randbytes(16).hex()


@app.post("/table/join")
def join_table():
    sid = new_session_id()
    sessions[sid] = {"name": request.json["name"], "chips": 100}
    return jsonify(session=sid)


@app.post("/table/roll")
def roll():
    player = sessions.get(request.headers.get("X-Session", ""))
    if player is None:
        return jsonify(error="unknown session"), 401
    dice = [random.randint(1, 6) for _ in range(2)]
    player["chips"] += 10 if sum(dice) == 7 else -5
    return jsonify(dice=dice, chips=player["chips"])
''',
     '''import random
import secrets

from flask import Flask, jsonify, request

app = Flask(__name__)
sessions: dict[str, dict] = {}


def new_session_id() -> str:
    return secrets.token_hex(16)


@app.post("/table/join")
def join_table():
    sid = new_session_id()
    sessions[sid] = {"name": request.json["name"], "chips": 100}
    return jsonify(session=sid)


@app.post("/table/roll")
def roll():
    player = sessions.get(request.headers.get("X-Session", ""))
    if player is None:
        return jsonify(error="unknown session"), 401
    dice = [random.randint(1, 6) for _ in range(2)]
    player["chips"] += 10 if sum(dice) == 7 else -5
    return jsonify(dice=dice, chips=player["chips"])
'''),
    ("insecure-random",
     '''#!/usr/bin/env python3
"""Issue API keys for partner integrations and record them in the key registry."""
import argparse
import csv
import datetime
import random
import string

ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 40


def issue_key(prefix: str) -> str:
    body = "".join(random.choice(ALPHABET) for _ in range(KEY_LENGTH))
    return f"{prefix}_{body}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("partner")
    parser.add_argument("--env", choices=["test", "live"], default="test")
    parser.add_argument("--registry", default="keys.csv")
    args = parser.parse_args()
    key = issue_key(f"pk_{args.env}")
    with open(args.registry, "a", newline="") as fh:
        csv.writer(fh).writerow([args.partner, args.env, "..." + key[-4:], datetime.date.today()])
    print(key)


if __name__ == "__main__":
    main()
''',
     '''#!/usr/bin/env python3
"""Issue API keys for partner integrations and record them in the key registry."""
import argparse
import csv
import datetime
import secrets
import string

ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 40


def issue_key(prefix: str) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(KEY_LENGTH))
    return f"{prefix}_{body}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("partner")
    parser.add_argument("--env", choices=["test", "live"], default="test")
    parser.add_argument("--registry", default="keys.csv")
    args = parser.parse_args()
    key = issue_key(f"pk_{args.env}")
    with open(args.registry, "a", newline="") as fh:
        csv.writer(fh).writerow([args.partner, args.env, "..." + key[-4:], datetime.date.today()])
    print(key)


if __name__ == "__main__":
    main()
'''),
    ("insecure-random",
     '''import random
import time

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()
pending: dict[str, tuple[str, float]] = {}
CODE_TTL = 300


class Phone(BaseModel):
    number: str


class Check(BaseModel):
    number: str
    code: str


def send_sms(number: str, text: str) -> None:
    print(f"[sms to {number}] {text}")


@app.post("/otp/request")
def request_code(phone: Phone):
    code = f"{random.randint(0, 999999):06d}"
    pending[phone.number] = (code, time.time() + CODE_TTL)
    send_sms(phone.number, f"Your login code is {code}")
    return {"sent": True}


@app.post("/otp/verify")
def verify_code(check: Check):
    code, expires = pending.pop(check.number, ("", 0.0))
    if time.time() > expires or check.code != code:
        raise HTTPException(status_code=401, detail="invalid code")
    return {"verified": True}
''',
     '''import secrets
import time

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI()
pending: dict[str, tuple[str, float]] = {}
CODE_TTL = 300


class Phone(BaseModel):
    number: str


class Check(BaseModel):
    number: str
    code: str


def send_sms(number: str, text: str) -> None:
    print(f"[sms to {number}] {text}")


@app.post("/otp/request")
def request_code(phone: Phone):
    code = f"{secrets.randbelow(1_000_000):06d}"
    pending[phone.number] = (code, time.time() + CODE_TTL)
    send_sms(phone.number, f"Your login code is {code}")
    return {"sent": True}


@app.post("/otp/verify")
def verify_code(check: Check):
    code, expires = pending.pop(check.number, ("", 0.0))
    if time.time() > expires or check.code != code:
        raise HTTPException(status_code=401, detail="invalid code")
    return {"verified": True}
'''),
    ("insecure-random",
     '''"""Encrypt exported feature matrices before they leave the lab cluster."""
import getpass

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC


def derive_key(passphrase: bytes, salt: bytes) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=600_000)
    return kdf.derive(passphrase)


def encrypt_matrix(matrix: np.ndarray, passphrase: bytes) -> bytes:
    salt = np.random.bytes(16)
    nonce = np.random.bytes(12)
    key = derive_key(passphrase, salt)
    ciphertext = AESGCM(key).encrypt(nonce, matrix.astype(np.float32).tobytes(), None)
    return salt + nonce + ciphertext


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1000, 64))
    blob = encrypt_matrix(features, getpass.getpass("passphrase: ").encode())
    print(len(blob), "bytes")
''',
     '''"""Encrypt exported feature matrices before they leave the lab cluster."""
import getpass
import os

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC


def derive_key(passphrase: bytes, salt: bytes) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=600_000)
    return kdf.derive(passphrase)


def encrypt_matrix(matrix: np.ndarray, passphrase: bytes) -> bytes:
    salt = os.urandom(16)
    nonce = os.urandom(12)
    key = derive_key(passphrase, salt)
    ciphertext = AESGCM(key).encrypt(nonce, matrix.astype(np.float32).tobytes(), None)
    return salt + nonce + ciphertext


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1000, 64))
    blob = encrypt_matrix(features, getpass.getpass("passphrase: ").encode())
    print(len(blob), "bytes")
'''),
    ("insecure-random",
     '''import hashlib
import random

from aiohttp import web
from aiohttp_session import get_session, setup
from aiohttp_session.cookie_storage import EncryptedCookieStorage


def new_csrf_token() -> str:
    return hashlib.md5(str(random.random()).encode()).hexdigest()


async def form(request):
    session = await get_session(request)
    session["csrf"] = new_csrf_token()
    hidden = f'<input type="hidden" name="csrf" value="{session["csrf"]}">'
    html = f'<form method="post">{hidden}<button>Delete my account</button></form>'
    return web.Response(text=html, content_type="text/html")


async def submit(request):
    session = await get_session(request)
    data = await request.post()
    if data.get("csrf") != session.pop("csrf", None):
        raise web.HTTPForbidden(text="bad csrf token")
    return web.Response(text="account scheduled for deletion")


def make_app(secret_key: bytes) -> web.Application:
    app = web.Application()
    setup(app, EncryptedCookieStorage(secret_key))
    app.router.add_get("/account/delete", form)
    app.router.add_post("/account/delete", submit)
    return app
''',
     '''import secrets

from aiohttp import web
from aiohttp_session import get_session, setup
from aiohttp_session.cookie_storage import EncryptedCookieStorage


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


async def form(request):
    session = await get_session(request)
    session["csrf"] = new_csrf_token()
    hidden = f'<input type="hidden" name="csrf" value="{session["csrf"]}">'
    html = f'<form method="post">{hidden}<button>Delete my account</button></form>'
    return web.Response(text=html, content_type="text/html")


async def submit(request):
    session = await get_session(request)
    data = await request.post()
    if data.get("csrf") != session.pop("csrf", None):
        raise web.HTTPForbidden(text="bad csrf token")
    return web.Response(text="account scheduled for deletion")


def make_app(secret_key: bytes) -> web.Application:
    app = web.Application()
    setup(app, EncryptedCookieStorage(secret_key))
    app.router.add_get("/account/delete", form)
    app.router.add_post("/account/delete", submit)
    return app
'''),
    ("insecure-random",
     '''"""Print a sheet of guest Wi-Fi vouchers for the front desk and register them with the captive portal."""
import random
import string

import requests

PORTAL = "https://portal.hotel.example/api/vouchers"
rng = random.Random()
ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "O0I1")


def voucher_code(groups=3, size=4):
    return "-".join("".join(rng.choice(ALPHABET) for _ in range(size)) for _ in range(groups))


def issue(count, hours, api_token):
    codes = [voucher_code() for _ in range(count)]
    resp = requests.post(PORTAL, json={"codes": codes, "valid_hours": hours},
                         headers={"Authorization": f"Bearer {api_token}"}, timeout=10)
    resp.raise_for_status()
    return codes


if __name__ == "__main__":
    import os

    for code in issue(24, 72, os.environ["PORTAL_TOKEN"]):
        print(f"[ ] {code}")
''',
     '''"""Print a sheet of guest Wi-Fi vouchers for the front desk and register them with the captive portal."""
import secrets
import string

import requests

PORTAL = "https://portal.hotel.example/api/vouchers"
rng = secrets.SystemRandom()
ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "O0I1")


def voucher_code(groups=3, size=4):
    return "-".join("".join(rng.choice(ALPHABET) for _ in range(size)) for _ in range(groups))


def issue(count, hours, api_token):
    codes = [voucher_code() for _ in range(count)]
    resp = requests.post(PORTAL, json={"codes": codes, "valid_hours": hours},
                         headers={"Authorization": f"Bearer {api_token}"}, timeout=10)
    resp.raise_for_status()
    return codes


if __name__ == "__main__":
    import os

    for code in issue(24, 72, os.environ["PORTAL_TOKEN"]):
        print(f"[ ] {code}")
'''),
    ("insecure-tempfile",
     '''"""Take a consistent snapshot of the app's SQLite database, gzip it and store it on the backup volume."""
import gzip
import os
import shutil
import sqlite3
import tempfile
from datetime import datetime

DB_PATH = "/srv/app/data/app.sqlite3"
BACKUP_DIR = "/mnt/backup/sqlite"


def snapshot():
    snapshot_path = tempfile.mktemp(suffix=".sqlite3")
    src, dst = sqlite3.connect(DB_PATH), sqlite3.connect(snapshot_path)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    target = os.path.join(BACKUP_DIR, f"app-{datetime.now():%Y%m%d-%H%M}.sqlite3.gz")
    with open(snapshot_path, "rb") as fin, gzip.open(target, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    os.remove(snapshot_path)
    return target


if __name__ == "__main__":
    print(snapshot())
''',
     '''"""Take a consistent snapshot of the app's SQLite database, gzip it and store it on the backup volume."""
import gzip
import os
import shutil
import sqlite3
import tempfile
from datetime import datetime

DB_PATH = "/srv/app/data/app.sqlite3"
BACKUP_DIR = "/mnt/backup/sqlite"


def snapshot():
    fd, snapshot_path = tempfile.mkstemp(suffix=".sqlite3")
    os.close(fd)
    src, dst = sqlite3.connect(DB_PATH), sqlite3.connect(snapshot_path)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    target = os.path.join(BACKUP_DIR, f"app-{datetime.now():%Y%m%d-%H%M}.sqlite3.gz")
    with open(snapshot_path, "rb") as fin, gzip.open(target, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    os.remove(snapshot_path)
    return target


if __name__ == "__main__":
    print(snapshot())
'''),
    ("insecure-tempfile",
     '''"""Render an invoice PDF from its HTML template."""
import subprocess
import sys

from jinja2 import Environment, FileSystemLoader

env = Environment(loader=FileSystemLoader("templates"), autoescape=True)


def render_invoice(invoice: dict) -> bytes:
    html = env.get_template("invoice.html").render(invoice=invoice)
    html_path = f"/tmp/invoice-{invoice['number']}.html"
    pdf_path = html_path.replace(".html", ".pdf")
    with open(html_path, "w") as fh:
        fh.write(html)
    subprocess.run(["wkhtmltopdf", "--quiet", html_path, pdf_path], check=True)
    with open(pdf_path, "rb") as fh:
        return fh.read()


if __name__ == "__main__":
    pdf = render_invoice({"number": sys.argv[1], "customer": "Globex", "lines": [("Support plan", 1200)]})
    sys.stdout.buffer.write(pdf)
''',
     '''"""Render an invoice PDF from its HTML template."""
import subprocess
import sys
import tempfile

from jinja2 import Environment, FileSystemLoader

env = Environment(loader=FileSystemLoader("templates"), autoescape=True)


def render_invoice(invoice: dict) -> bytes:
    html = env.get_template("invoice.html").render(invoice=invoice)
    workdir = tempfile.mkdtemp(prefix="invoice-")
    html_path = f"{workdir}/invoice-{invoice['number']}.html"
    pdf_path = html_path.replace(".html", ".pdf")
    with open(html_path, "w") as fh:
        fh.write(html)
    subprocess.run(["wkhtmltopdf", "--quiet", html_path, pdf_path], check=True)
    with open(pdf_path, "rb") as fh:
        return fh.read()


if __name__ == "__main__":
    pdf = render_invoice({"number": sys.argv[1], "customer": "Globex", "lines": [("Support plan", 1200)]})
    sys.stdout.buffer.write(pdf)
'''),
    ("insecure-tempfile",
     '''import asyncio
import os
import tempfile


async def transcode(src: str, height: int = 720) -> bytes:
    out = tempfile.mktemp(suffix=".mp4")
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-y", "-loglevel", "error", "-i", src, "-vf", f"scale=-2:{height}", out
    )
    if await proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed on {src}")
    with open(out, "rb") as fh:
        data = fh.read()
    os.remove(out)
    return data


async def main(paths):
    results = await asyncio.gather(*(transcode(p) for p in paths))
    for path, data in zip(paths, results):
        print(f"{path}: {len(data) / 1e6:.1f} MB")


if __name__ == "__main__":
    import sys

    asyncio.run(main(sys.argv[1:]))
''',
     '''import asyncio
import os
import tempfile


async def transcode(src: str, height: int = 720) -> bytes:
    out = os.path.join(tempfile.mkdtemp(), "out.mp4")
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-y", "-loglevel", "error", "-i", src, "-vf", f"scale=-2:{height}", out
    )
    if await proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed on {src}")
    with open(out, "rb") as fh:
        data = fh.read()
    os.remove(out)
    return data


async def main(paths):
    results = await asyncio.gather(*(transcode(p) for p in paths))
    for path, data in zip(paths, results):
        print(f"{path}: {len(data) / 1e6:.1f} MB")


if __name__ == "__main__":
    import sys

    asyncio.run(main(sys.argv[1:]))
'''),
    ("insecure-tempfile",
     '''#!/usr/bin/env python3
"""Render a deploy script for the selected hosts and run it with bash."""
import os
import subprocess
import sys

TEMPLATE = """set -euo pipefail
for host in {hosts}; do
  rsync -az --delete build/ "deploy@$host:/srv/site/"
done
"""


def main(hosts):
    script_path = f"/tmp/deploy_{os.getpid()}.sh"
    with open(script_path, "w") as fh:
        fh.write(TEMPLATE.format(hosts=" ".join(hosts)))
    try:
        return subprocess.run(["bash", script_path]).returncode
    finally:
        os.unlink(script_path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
''',
     '''#!/usr/bin/env python3
"""Render a deploy script for the selected hosts and run it with bash."""
import os
import subprocess
import sys
import tempfile

TEMPLATE = """set -euo pipefail
for host in {hosts}; do
  rsync -az --delete build/ "deploy@$host:/srv/site/"
done
"""


def main(hosts):
    fd, script_path = tempfile.mkstemp(prefix="deploy_", suffix=".sh")
    with os.fdopen(fd, "w") as fh:
        fh.write(TEMPLATE.format(hosts=" ".join(hosts)))
    try:
        return subprocess.run(["bash", script_path]).returncode
    finally:
        os.unlink(script_path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''),
    ("insecure-tempfile",
     '''import subprocess
import tempfile

import numpy as np


def embed_batch(texts, model):
    return np.stack([model.encode(t) for t in texts])


def ship_features(texts, model, remote="gpu-box:/scratch/features/"):
    feats = embed_batch(texts, model)
    path = tempfile.mktemp(prefix="feat_", suffix=".npy")
    np.save(path, feats)
    subprocess.run(["scp", "-q", path, remote], check=True)
    return feats.shape


if __name__ == "__main__":
    from sentence_transformers import SentenceTransformer

    with open("corpus.txt") as fh:
        lines = fh.read().splitlines()
    print(ship_features(lines, SentenceTransformer("all-MiniLM-L6-v2")))
''',
     '''import subprocess
import tempfile

import numpy as np


def embed_batch(texts, model):
    return np.stack([model.encode(t) for t in texts])


def ship_features(texts, model, remote="gpu-box:/scratch/features/"):
    feats = embed_batch(texts, model)
    with tempfile.NamedTemporaryFile(prefix="feat_", suffix=".npy") as tmp:
        np.save(tmp, feats)
        tmp.flush()
        subprocess.run(["scp", "-q", tmp.name, remote], check=True)
    return feats.shape


if __name__ == "__main__":
    from sentence_transformers import SentenceTransformer

    with open("corpus.txt") as fh:
        lines = fh.read().splitlines()
    print(ship_features(lines, SentenceTransformer("all-MiniLM-L6-v2")))
'''),
    ("insecure-tempfile",
     r'''"""Build the Sphinx docs in a scratch directory and upload them with rclone."""
import os
import subprocess
import sys
import tempfile

CONFIG = "[docs]\ntype = s3\nprovider = AWS\naccess_key_id = {key_id}\nsecret_access_key = {secret}\n"


def publish(source_dir, key_id, secret):
    with tempfile.TemporaryDirectory(prefix="docs-") as build_dir:
        subprocess.run(["sphinx-build", "-q", "-b", "html", source_dir, build_dir], check=True)
        config_path = tempfile.mktemp(suffix=".conf")
        with open(config_path, "w") as fh:
            fh.write(CONFIG.format(key_id=key_id, secret=secret))
        try:
            subprocess.run(["rclone", "--config", config_path, "sync", build_dir, "docs:site/latest"], check=True)
        finally:
            os.remove(config_path)


if __name__ == "__main__":
    publish(sys.argv[1], os.environ["DOCS_KEY_ID"], os.environ["DOCS_SECRET"])
''',
     r'''"""Build the Sphinx docs in a scratch directory and upload them with rclone."""
import os
import subprocess
import sys
import tempfile

CONFIG = "[docs]\ntype = s3\nprovider = AWS\naccess_key_id = {key_id}\nsecret_access_key = {secret}\n"


def publish(source_dir, key_id, secret):
    with tempfile.TemporaryDirectory(prefix="docs-") as build_dir:
        subprocess.run(["sphinx-build", "-q", "-b", "html", source_dir, build_dir], check=True)
        fd, config_path = tempfile.mkstemp(suffix=".conf")
        with os.fdopen(fd, "w") as fh:
            fh.write(CONFIG.format(key_id=key_id, secret=secret))
        try:
            subprocess.run(["rclone", "--config", config_path, "sync", build_dir, "docs:site/latest"], check=True)
        finally:
            os.remove(config_path)


if __name__ == "__main__":
    publish(sys.argv[1], os.environ["DOCS_KEY_ID"], os.environ["DOCS_SECRET"])
'''),
    ("tls-verify-off",
     '''"""Poll the build farm's status API and print agents that are offline."""
import os
import time

import requests

API = "https://ci.internal.example/api/v2/agents"


def offline_agents(token):
    resp = requests.get(API, headers={"Authorization": f"Bearer {token}"}, timeout=10, verify=False)
    resp.raise_for_status()
    return [a["name"] for a in resp.json()["agents"] if not a["connected"]]


if __name__ == "__main__":
    while True:
        names = offline_agents(os.environ["CI_TOKEN"])
        print(time.strftime("%H:%M"), ", ".join(names) or "all agents online")
        time.sleep(60)
''',
     '''"""Poll the build farm's status API and print agents that are offline."""
import os
import time

import requests

API = "https://ci.internal.example/api/v2/agents"


def offline_agents(token):
    resp = requests.get(API, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    resp.raise_for_status()
    return [a["name"] for a in resp.json()["agents"] if not a["connected"]]


if __name__ == "__main__":
    while True:
        names = offline_agents(os.environ["CI_TOKEN"])
        print(time.strftime("%H:%M"), ", ".join(names) or "all agents online")
        time.sleep(60)
'''),
    ("tls-verify-off",
     '''import asyncio

import httpx

PRICE_URLS = {
    "BTC": "https://api.exchange.example/v1/ticker/btc-usd",
    "ETH": "https://api.exchange.example/v1/ticker/eth-usd",
    "SOL": "https://api.exchange.example/v1/ticker/sol-usd",
}


async def fetch_prices() -> dict[str, float]:
    async with httpx.AsyncClient(timeout=5.0, verify=False) as client:
        responses = await asyncio.gather(*(client.get(url) for url in PRICE_URLS.values()))
    return {sym: float(r.json()["last"]) for sym, r in zip(PRICE_URLS, responses)}


async def main() -> None:
    prices = await fetch_prices()
    for symbol, price in sorted(prices.items()):
        print(f"{symbol:>4} {price:>12,.2f}")


asyncio.run(main())
''',
     '''import asyncio

import httpx

PRICE_URLS = {
    "BTC": "https://api.exchange.example/v1/ticker/btc-usd",
    "ETH": "https://api.exchange.example/v1/ticker/eth-usd",
    "SOL": "https://api.exchange.example/v1/ticker/sol-usd",
}


async def fetch_prices() -> dict[str, float]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        responses = await asyncio.gather(*(client.get(url) for url in PRICE_URLS.values()))
    return {sym: float(r.json()["last"]) for sym, r in zip(PRICE_URLS, responses)}


async def main() -> None:
    prices = await fetch_prices()
    for symbol, price in sorted(prices.items()):
        print(f"{symbol:>4} {price:>12,.2f}")


asyncio.run(main())
'''),
    ("tls-verify-off",
     '''import json
import ssl
import urllib.request

FEED = "https://status.vendor.example/api/incidents.json"


def open_incidents():
    ctx = ssl._create_unverified_context()
    with urllib.request.urlopen(FEED, context=ctx, timeout=15) as resp:
        data = json.load(resp)
    return [i for i in data["incidents"] if i["status"] != "resolved"]


def main():
    incidents = open_incidents()
    if not incidents:
        print("vendor reports no open incidents")
    for inc in incidents:
        print(f"[{inc['impact']}] {inc['name']} (since {inc['created_at']})")


if __name__ == "__main__":
    main()
''',
     '''import json
import ssl
import urllib.request

FEED = "https://status.vendor.example/api/incidents.json"


def open_incidents():
    ctx = ssl.create_default_context()
    with urllib.request.urlopen(FEED, context=ctx, timeout=15) as resp:
        data = json.load(resp)
    return [i for i in data["incidents"] if i["status"] != "resolved"]


def main():
    incidents = open_incidents()
    if not incidents:
        print("vendor reports no open incidents")
    for inc in incidents:
        print(f"[{inc['impact']}] {inc['name']} (since {inc['created_at']})")


if __name__ == "__main__":
    main()
'''),
    ("tls-verify-off",
     '''import requests


class GrafanaClient:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.verify = False

    def dashboards(self, tag: str | None = None) -> list[dict]:
        params = {"type": "dash-db", **({"tag": tag} if tag else {})}
        resp = self.session.get(f"{self.base_url}/api/search", params=params, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def annotate(self, dashboard_uid: str, text: str) -> int:
        body = {"dashboardUID": dashboard_uid, "text": text, "tags": ["deploy"]}
        resp = self.session.post(f"{self.base_url}/api/annotations", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json()["id"]


if __name__ == "__main__":
    import os
    import sys

    client = GrafanaClient("https://grafana.internal.example", os.environ["GRAFANA_TOKEN"])
    for dash in client.dashboards(tag="prod"):
        client.annotate(dash["uid"], f"deployed {sys.argv[1]}")
''',
     '''import requests


class GrafanaClient:
    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def dashboards(self, tag: str | None = None) -> list[dict]:
        params = {"type": "dash-db", **({"tag": tag} if tag else {})}
        resp = self.session.get(f"{self.base_url}/api/search", params=params, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def annotate(self, dashboard_uid: str, text: str) -> int:
        body = {"dashboardUID": dashboard_uid, "text": text, "tags": ["deploy"]}
        resp = self.session.post(f"{self.base_url}/api/annotations", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json()["id"]


if __name__ == "__main__":
    import os
    import sys

    client = GrafanaClient("https://grafana.internal.example", os.environ["GRAFANA_TOKEN"])
    for dash in client.dashboards(tag="prod"):
        client.annotate(dash["uid"], f"deployed {sys.argv[1]}")
'''),
    ("tls-verify-off",
     '''import json
import ssl
import time

import paho.mqtt.client as mqtt

BROKER = "mqtt.greenhouse.example"


def on_connect(client, userdata, flags, reason_code, properties=None):
    client.subscribe("greenhouse/+/humidity")


def on_message(client, userdata, msg):
    reading = json.loads(msg.payload)
    if reading["value"] > 85:
        print(time.strftime("%H:%M"), msg.topic, "humidity high:", reading["value"])


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
client.tls_set(cert_reqs=ssl.CERT_NONE)
client.tls_insecure_set(True)
client.on_connect = on_connect
client.on_message = on_message
client.connect(BROKER, 8883)
client.loop_forever()
''',
     '''import json
import ssl
import time

import paho.mqtt.client as mqtt

BROKER = "mqtt.greenhouse.example"


def on_connect(client, userdata, flags, reason_code, properties=None):
    client.subscribe("greenhouse/+/humidity")


def on_message(client, userdata, msg):
    reading = json.loads(msg.payload)
    if reading["value"] > 85:
        print(time.strftime("%H:%M"), msg.topic, "humidity high:", reading["value"])


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
client.on_connect = on_connect
client.on_message = on_message
client.connect(BROKER, 8883)
client.loop_forever()
'''),
    ("tls-verify-off",
     '''from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch

with open("/etc/logship/es_api_key") as _fh:
    es = Elasticsearch("https://logs.internal.example:9200", api_key=_fh.read().strip(), verify_certs=False)


def error_counts(index="app-logs-*", minutes=15):
    since = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    recent_errors = [{"term": {"level": "ERROR"}}, {"range": {"@timestamp": {"gte": since.isoformat()}}}]
    result = es.search(
        index=index,
        size=0,
        query={"bool": {"filter": recent_errors}},
        aggs={"by_service": {"terms": {"field": "service.keyword", "size": 20}}},
    )
    return {b["key"]: b["doc_count"] for b in result["aggregations"]["by_service"]["buckets"]}


if __name__ == "__main__":
    for service, count in sorted(error_counts().items(), key=lambda kv: -kv[1]):
        print(f"{count:6d}  {service}")
''',
     '''from datetime import datetime, timedelta, timezone

from elasticsearch import Elasticsearch

with open("/etc/logship/es_api_key") as _fh:
    es = Elasticsearch("https://logs.internal.example:9200", api_key=_fh.read().strip(), ca_certs="/etc/logship/es-ca.pem")


def error_counts(index="app-logs-*", minutes=15):
    since = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    recent_errors = [{"term": {"level": "ERROR"}}, {"range": {"@timestamp": {"gte": since.isoformat()}}}]
    result = es.search(
        index=index,
        size=0,
        query={"bool": {"filter": recent_errors}},
        aggs={"by_service": {"terms": {"field": "service.keyword", "size": 20}}},
    )
    return {b["key"]: b["doc_count"] for b in result["aggregations"]["by_service"]["buckets"]}


if __name__ == "__main__":
    for service, count in sorted(error_counts().items(), key=lambda kv: -kv[1]):
        print(f"{count:6d}  {service}")
'''),
    ("xml-external-entities",
     '''"""Crawl helper: list the URLs of a site's sitemap that changed since a given date."""
import sys
import xml.etree.ElementTree as ET
from datetime import date

import requests

NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def changed_since(sitemap_url, since):
    root = ET.fromstring(requests.get(sitemap_url, timeout=20).content)
    changed = []
    for url in root.findall("sm:url", NS):
        loc = url.findtext("sm:loc", namespaces=NS)
        lastmod = url.findtext("sm:lastmod", default="", namespaces=NS)
        if lastmod and date.fromisoformat(lastmod[:10]) >= since:
            changed.append(loc)
    return changed


if __name__ == "__main__":
    for loc in changed_since(sys.argv[1], date.fromisoformat(sys.argv[2])):
        print(loc)
''',
     '''"""Crawl helper: list the URLs of a site's sitemap that changed since a given date."""
import sys
import defusedxml.ElementTree as ET
from datetime import date

import requests

NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def changed_since(sitemap_url, since):
    root = ET.fromstring(requests.get(sitemap_url, timeout=20).content)
    changed = []
    for url in root.findall("sm:url", NS):
        loc = url.findtext("sm:loc", namespaces=NS)
        lastmod = url.findtext("sm:lastmod", default="", namespaces=NS)
        if lastmod and date.fromisoformat(lastmod[:10]) >= since:
            changed.append(loc)
    return changed


if __name__ == "__main__":
    for loc in changed_since(sys.argv[1], date.fromisoformat(sys.argv[2])):
        print(loc)
'''),
    ("xml-external-entities",
     '''"""Report the viewBox and the number of paths of every SVG icon contributed to the design system."""
from pathlib import Path
from xml.etree.ElementTree import parse

SVG = "{http://www.w3.org/2000/svg}"


def icon_stats(svg_path: Path) -> dict:
    root = parse(svg_path).getroot()
    return {
        "name": svg_path.stem,
        "viewBox": root.get("viewBox", "missing"),
        "paths": len(root.findall(f".//{SVG}path")),
        "has_title": root.find(f"{SVG}title") is not None,
    }


def audit(icon_dir: str = "icons") -> list[dict]:
    stats = [icon_stats(p) for p in sorted(Path(icon_dir).glob("*.svg"))]
    return [s for s in stats if s["viewBox"] != "0 0 24 24" or not s["has_title"]]


if __name__ == "__main__":
    for problem in audit():
        print(problem)
''',
     '''"""Report the viewBox and the number of paths of every SVG icon contributed to the design system."""
from pathlib import Path
from defusedxml.ElementTree import parse

SVG = "{http://www.w3.org/2000/svg}"


def icon_stats(svg_path: Path) -> dict:
    root = parse(svg_path).getroot()
    return {
        "name": svg_path.stem,
        "viewBox": root.get("viewBox", "missing"),
        "paths": len(root.findall(f".//{SVG}path")),
        "has_title": root.find(f"{SVG}title") is not None,
    }


def audit(icon_dir: str = "icons") -> list[dict]:
    stats = [icon_stats(p) for p in sorted(Path(icon_dir).glob("*.svg"))]
    return [s for s in stats if s["viewBox"] != "0 0 24 24" or not s["has_title"]]


if __name__ == "__main__":
    for problem in audit():
        print(problem)
'''),
    ("xml-external-entities",
     '''"""Stream a MediaWiki XML dump and count pages per namespace."""
import sys
from collections import Counter
from xml.sax import make_parser
from xml.sax.handler import ContentHandler


class NamespaceCounter(ContentHandler):
    def __init__(self):
        super().__init__()
        self.counts = Counter()
        self._in_ns = False
        self._buf = []

    def startElement(self, name, attrs):
        if name == "ns":
            self._in_ns, self._buf = True, []

    def characters(self, content):
        if self._in_ns:
            self._buf.append(content)

    def endElement(self, name):
        if name == "ns":
            self.counts[int("".join(self._buf))] += 1
            self._in_ns = False


if __name__ == "__main__":
    handler = NamespaceCounter()
    parser = make_parser()
    parser.setContentHandler(handler)
    parser.parse(sys.argv[1])
    for ns, n in sorted(handler.counts.items()):
        print(f"namespace {ns}: {n} pages")
''',
     '''"""Stream a MediaWiki XML dump and count pages per namespace."""
import sys
from collections import Counter
from defusedxml.sax import make_parser
from xml.sax.handler import ContentHandler


class NamespaceCounter(ContentHandler):
    def __init__(self):
        super().__init__()
        self.counts = Counter()
        self._in_ns = False
        self._buf = []

    def startElement(self, name, attrs):
        if name == "ns":
            self._in_ns, self._buf = True, []

    def characters(self, content):
        if self._in_ns:
            self._buf.append(content)

    def endElement(self, name):
        if name == "ns":
            self.counts[int("".join(self._buf))] += 1
            self._in_ns = False


if __name__ == "__main__":
    handler = NamespaceCounter()
    parser = make_parser()
    parser.setContentHandler(handler)
    parser.parse(sys.argv[1])
    for ns, n in sorted(handler.counts.items()):
        print(f"namespace {ns}: {n} pages")
'''),
    ("xml-external-entities",
     '''"""Import product data from suppliers' XML catalogues."""
from decimal import Decimal

from lxml import etree

PARSER = etree.XMLParser(load_dtd=True, resolve_entities=True, no_network=False, remove_blank_text=True)


def parse_catalogue(xml_bytes: bytes) -> list[dict]:
    root = etree.fromstring(xml_bytes, parser=PARSER)
    products = []
    for item in root.iterfind("product"):
        products.append({
            "sku": item.get("sku"),
            "name": item.findtext("name", "").strip(),
            "price": Decimal(item.findtext("price", "0")),
            "stock": int(item.findtext("stock", "0")),
        })
    return products


if __name__ == "__main__":
    import sys

    with open(sys.argv[1], "rb") as fh:
        for product in parse_catalogue(fh.read()):
            print(product)
''',
     '''"""Import product data from suppliers' XML catalogues."""
from decimal import Decimal

from lxml import etree

PARSER = etree.XMLParser(load_dtd=False, resolve_entities=False, no_network=True, remove_blank_text=True)


def parse_catalogue(xml_bytes: bytes) -> list[dict]:
    root = etree.fromstring(xml_bytes, parser=PARSER)
    products = []
    for item in root.iterfind("product"):
        products.append({
            "sku": item.get("sku"),
            "name": item.findtext("name", "").strip(),
            "price": Decimal(item.findtext("price", "0")),
            "stock": int(item.findtext("stock", "0")),
        })
    return products


if __name__ == "__main__":
    import sys

    with open(sys.argv[1], "rb") as fh:
        for product in parse_catalogue(fh.read()):
            print(product)
'''),
    ("xml-external-entities",
     '''"""Webhook for the payment provider's XML notifications (their legacy API)."""
import xmltodict
from fastapi import FastAPI, Request, Response

app = FastAPI()
PAID: set[str] = set()


@app.post("/notify/payment")
async def payment_notification(request: Request):
    body = await request.body()
    doc = xmltodict.parse(body, disable_entities=False)
    note = doc["PaymentNotification"]
    if note["Status"] == "CAPTURED":
        PAID.add(note["OrderRef"])
    ack = xmltodict.unparse({"Ack": {"OrderRef": note["OrderRef"], "Received": "true"}})
    return Response(ack, media_type="application/xml")
''',
     '''"""Webhook for the payment provider's XML notifications (their legacy API)."""
import xmltodict
from fastapi import FastAPI, Request, Response

app = FastAPI()
PAID: set[str] = set()


@app.post("/notify/payment")
async def payment_notification(request: Request):
    body = await request.body()
    doc = xmltodict.parse(body)
    note = doc["PaymentNotification"]
    if note["Status"] == "CAPTURED":
        PAID.add(note["OrderRef"])
    ack = xmltodict.unparse({"Ack": {"OrderRef": note["OrderRef"], "Received": "true"}})
    return Response(ack, media_type="application/xml")
'''),
    ("xml-external-entities",
     '''"""Merge the XLIFF files sent back by freelance translators into one translation-memory file."""
import sys
from pathlib import Path
from xml.sax import parse
from xml.sax.handler import ContentHandler
from xml.sax.saxutils import escape, quoteattr


class TargetCollector(ContentHandler):
    def __init__(self):
        super().__init__()
        self.units = {}
        self._unit = None
        self._buf = None

    def startElement(self, name, attrs):
        if name == "trans-unit":
            self._unit = attrs.get("id")
        elif name == "target":
            self._buf = []

    def characters(self, content):
        if self._buf is not None:
            self._buf.append(content)

    def endElement(self, name):
        if name == "target":
            self.units[self._unit] = "".join(self._buf)
            self._buf = None


if __name__ == "__main__":
    collector = TargetCollector()
    for path in sorted(Path(sys.argv[1]).glob("*.xlf")):
        parse(str(path), collector)
    print('<tmx version="1.4"><body>')
    for unit_id, text in sorted(collector.units.items()):
        print(f"  <tu tuid={quoteattr(unit_id)}><seg>{escape(text)}</seg></tu>")
    print("</body></tmx>")
''',
     '''"""Merge the XLIFF files sent back by freelance translators into one translation-memory file."""
import sys
from pathlib import Path
from xml.sax.handler import ContentHandler
from xml.sax.saxutils import escape, quoteattr

from defusedxml.sax import parse


class TargetCollector(ContentHandler):
    def __init__(self):
        super().__init__()
        self.units = {}
        self._unit = None
        self._buf = None

    def startElement(self, name, attrs):
        if name == "trans-unit":
            self._unit = attrs.get("id")
        elif name == "target":
            self._buf = []

    def characters(self, content):
        if self._buf is not None:
            self._buf.append(content)

    def endElement(self, name):
        if name == "target":
            self.units[self._unit] = "".join(self._buf)
            self._buf = None


if __name__ == "__main__":
    collector = TargetCollector()
    for path in sorted(Path(sys.argv[1]).glob("*.xlf")):
        parse(str(path), collector)
    print('<tmx version="1.4"><body>')
    for unit_id, text in sorted(collector.units.items()):
        print(f"  <tu tuid={quoteattr(unit_id)}><seg>{escape(text)}</seg></tu>")
    print("</body></tmx>")
'''),
    ("path-traversal",
     '''import os

from flask import Flask, abort, send_file

app = Flask(__name__)
EXPORT_DIR = os.path.realpath("/srv/exports")


@app.get("/exports")
def list_exports():
    return {"files": sorted(os.listdir(EXPORT_DIR))}


@app.get("/exports/<path:name>")
def download_export(name):
    path = os.path.join(EXPORT_DIR, name)
    if not os.path.isfile(path):
        abort(404)
    return send_file(path, as_attachment=True)
''',
     '''import os

from flask import Flask, abort, send_file

app = Flask(__name__)
EXPORT_DIR = os.path.realpath("/srv/exports")


@app.get("/exports")
def list_exports():
    return {"files": sorted(os.listdir(EXPORT_DIR))}


@app.get("/exports/<path:name>")
def download_export(name):
    path = os.path.join(EXPORT_DIR, name)
    if os.path.commonpath([EXPORT_DIR, os.path.realpath(path)]) != EXPORT_DIR:
        abort(403)
    if not os.path.isfile(path):
        abort(404)
    return send_file(path, as_attachment=True)
'''),
    ("path-traversal",
     r'''from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse

app = FastAPI()
LOG_ROOT = Path("/var/log/jobs").resolve()


@app.get("/jobs/{job_id}/log", response_class=PlainTextResponse)
async def job_log(job_id: str, file: str = "stdout.log", tail: int = 200):
    target = (LOG_ROOT / job_id / file).resolve()
    if not target.is_file():
        raise HTTPException(status_code=404, detail="no such log")
    lines = target.read_text(errors="replace").splitlines()
    return "\n".join(lines[-tail:])
''',
     r'''from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse

app = FastAPI()
LOG_ROOT = Path("/var/log/jobs").resolve()


@app.get("/jobs/{job_id}/log", response_class=PlainTextResponse)
async def job_log(job_id: str, file: str = "stdout.log", tail: int = 200):
    target = (LOG_ROOT / job_id / file).resolve()
    if not target.is_relative_to(LOG_ROOT):
        raise HTTPException(status_code=400, detail="bad path")
    if not target.is_file():
        raise HTTPException(status_code=404, detail="no such log")
    lines = target.read_text(errors="replace").splitlines()
    return "\n".join(lines[-tail:])
'''),
    ("path-traversal",
     '''import os

from aiohttp import web

UPLOAD_DIR = "/srv/uploads/avatars"
MAX_BYTES = 2 * 1024 * 1024


async def upload_avatar(request: web.Request) -> web.Response:
    reader = await request.multipart()
    field = await reader.next()
    if field is None or field.name != "avatar":
        raise web.HTTPBadRequest(text="expected an 'avatar' field")
    dest = os.path.join(UPLOAD_DIR, field.filename)
    size = 0
    with open(dest, "wb") as fh:
        while chunk := await field.read_chunk():
            size += len(chunk)
            if size > MAX_BYTES:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_BYTES, actual_size=size)
            fh.write(chunk)
    return web.json_response({"saved": os.path.basename(dest), "bytes": size})


app = web.Application()
app.router.add_post("/avatar", upload_avatar)
''',
     '''import os

from aiohttp import web

UPLOAD_DIR = "/srv/uploads/avatars"
MAX_BYTES = 2 * 1024 * 1024


async def upload_avatar(request: web.Request) -> web.Response:
    reader = await request.multipart()
    field = await reader.next()
    if field is None or field.name != "avatar":
        raise web.HTTPBadRequest(text="expected an 'avatar' field")
    dest = os.path.join(UPLOAD_DIR, os.path.basename(field.filename))
    size = 0
    with open(dest, "wb") as fh:
        while chunk := await field.read_chunk():
            size += len(chunk)
            if size > MAX_BYTES:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_BYTES, actual_size=size)
            fh.write(chunk)
    return web.json_response({"saved": os.path.basename(dest), "bytes": size})


app = web.Application()
app.router.add_post("/avatar", upload_avatar)
'''),
    ("path-traversal",
     '''import os

from flask import Flask, redirect, request, url_for

app = Flask(__name__)
app.config["UPLOAD_FOLDER"] = "/srv/app/receipts"
ALLOWED = {".pdf", ".png", ".jpg"}


@app.route("/receipts", methods=["POST"])
def upload_receipt():
    file = request.files["receipt"]
    if os.path.splitext(file.filename)[1].lower() not in ALLOWED:
        return "unsupported file type", 400
    file.save(os.path.join(app.config["UPLOAD_FOLDER"], file.filename))
    return redirect(url_for("receipts_done"))


@app.get("/receipts/done")
def receipts_done():
    return "Thanks, your receipt was uploaded."
''',
     '''import os

from flask import Flask, redirect, request, url_for
from werkzeug.utils import secure_filename

app = Flask(__name__)
app.config["UPLOAD_FOLDER"] = "/srv/app/receipts"
ALLOWED = {".pdf", ".png", ".jpg"}


@app.route("/receipts", methods=["POST"])
def upload_receipt():
    file = request.files["receipt"]
    if os.path.splitext(file.filename)[1].lower() not in ALLOWED:
        return "unsupported file type", 400
    file.save(os.path.join(app.config["UPLOAD_FOLDER"], secure_filename(file.filename)))
    return redirect(url_for("receipts_done"))


@app.get("/receipts/done")
def receipts_done():
    return "Thanks, your receipt was uploaded."
'''),
    ("path-traversal",
     '''#!/usr/bin/env python3
"""Restore the files listed in a backup manifest into a target directory."""
import json
import os
import shutil
import sys


def restore(backup_dir, manifest_path, target_root):
    with open(manifest_path) as fh:
        entries = json.load(fh)["files"]
    root = os.path.realpath(target_root)
    restored = 0
    for entry in entries:
        src = os.path.join(backup_dir, entry["blob"])
        dest = os.path.join(root, entry["path"])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(src, dest)
        restored += 1
    return restored


if __name__ == "__main__":
    count = restore(sys.argv[1], sys.argv[2], sys.argv[3])
    print(f"restored {count} files")
''',
     '''#!/usr/bin/env python3
"""Restore the files listed in a backup manifest into a target directory."""
import json
import os
import shutil
import sys


def restore(backup_dir, manifest_path, target_root):
    with open(manifest_path) as fh:
        entries = json.load(fh)["files"]
    root = os.path.realpath(target_root)
    restored = 0
    for entry in entries:
        src = os.path.join(backup_dir, entry["blob"])
        dest = os.path.join(root, entry["path"])
        if os.path.commonpath([root, os.path.realpath(dest)]) != root:
            raise ValueError(f"manifest entry escapes the target: {entry['path']}")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(src, dest)
        restored += 1
    return restored


if __name__ == "__main__":
    count = restore(sys.argv[1], sys.argv[2], sys.argv[3])
    print(f"restored {count} files")
'''),
    ("path-traversal",
     '''import os

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse
from starlette.routing import Route

THEMES_DIR = "/opt/forum/themes"


async def theme_preview(request):
    theme = request.path_params["theme"]
    if theme not in os.listdir(THEMES_DIR):
        raise HTTPException(404)
    return FileResponse(os.path.join(THEMES_DIR, theme, "preview.png"))


async def theme_asset(request):
    asset = request.path_params["asset"]
    path = os.path.join(THEMES_DIR, request.path_params["theme"], "static", asset)
    if not os.path.exists(path):
        raise HTTPException(404)
    return FileResponse(path)


app = Starlette(routes=[
    Route("/themes/{theme}/preview", theme_preview),
    Route("/themes/{theme}/static/{asset:path}", theme_asset),
])
''',
     '''import os

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse
from starlette.routing import Route

THEMES_DIR = "/opt/forum/themes"


async def theme_preview(request):
    theme = request.path_params["theme"]
    if theme not in os.listdir(THEMES_DIR):
        raise HTTPException(404)
    return FileResponse(os.path.join(THEMES_DIR, theme, "preview.png"))


async def theme_asset(request):
    asset = request.path_params["asset"]
    path = os.path.join(THEMES_DIR, request.path_params["theme"], "static", asset)
    if not os.path.realpath(path).startswith(os.path.realpath(THEMES_DIR) + os.sep):
        raise HTTPException(404)
    if not os.path.exists(path):
        raise HTTPException(404)
    return FileResponse(path)


app = Starlette(routes=[
    Route("/themes/{theme}/preview", theme_preview),
    Route("/themes/{theme}/static/{asset:path}", theme_asset),
])
'''),
    ("debug-bind-all",
     '''from flask import Flask, jsonify, request

app = Flask(__name__)
RECIPES = [
    {"id": 1, "title": "Shakshuka", "tags": ["breakfast", "vegetarian"]},
    {"id": 2, "title": "Pad kra pao", "tags": ["dinner", "spicy"]},
    {"id": 3, "title": "Overnight oats", "tags": ["breakfast"]},
]


@app.get("/recipes")
def list_recipes():
    tag = request.args.get("tag")
    found = [r for r in RECIPES if tag is None or tag in r["tags"]]
    return jsonify(found)


@app.get("/recipes/<int:recipe_id>")
def get_recipe(recipe_id):
    match = next((r for r in RECIPES if r["id"] == recipe_id), None)
    return (jsonify(match), 200) if match else (jsonify(error="not found"), 404)


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000, debug=True)
''',
     '''from flask import Flask, jsonify, request

app = Flask(__name__)
RECIPES = [
    {"id": 1, "title": "Shakshuka", "tags": ["breakfast", "vegetarian"]},
    {"id": 2, "title": "Pad kra pao", "tags": ["dinner", "spicy"]},
    {"id": 3, "title": "Overnight oats", "tags": ["breakfast"]},
]


@app.get("/recipes")
def list_recipes():
    tag = request.args.get("tag")
    found = [r for r in RECIPES if tag is None or tag in r["tags"]]
    return jsonify(found)


@app.get("/recipes/<int:recipe_id>")
def get_recipe(recipe_id):
    match = next((r for r in RECIPES if r["id"] == recipe_id), None)
    return (jsonify(match), 200) if match else (jsonify(error="not found"), 404)


if __name__ == "__main__":
    app.run(port=5000)
'''),
    ("debug-bind-all",
     '''import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import pipeline

app = FastAPI(title="sentiment")
classifier = pipeline("sentiment-analysis", model="distilbert-base-uncased-finetuned-sst-2-english")


class Batch(BaseModel):
    texts: list[str]


@app.post("/predict")
def predict(batch: Batch):
    results = classifier(batch.texts, truncation=True)
    return [{"label": r["label"], "score": round(r["score"], 4)} for r in results]


if __name__ == "__main__":
    uvicorn.run("serve:app", host="0.0.0.0", port=8000, workers=2)
''',
     '''import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import pipeline

app = FastAPI(title="sentiment")
classifier = pipeline("sentiment-analysis", model="distilbert-base-uncased-finetuned-sst-2-english")


class Batch(BaseModel):
    texts: list[str]


@app.post("/predict")
def predict(batch: Batch):
    results = classifier(batch.texts, truncation=True)
    return [{"label": r["label"], "score": round(r["score"], 4)} for r in results]


if __name__ == "__main__":
    uvicorn.run("serve:app", host="127.0.0.1", port=8000, workers=2)
'''),
    ("debug-bind-all",
     '''"""Settings for the volunteer-rota project."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = True
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rota",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "rota",
        "HOST": os.environ.get("DB_HOST", "localhost"),
    }
}
STATIC_ROOT = BASE_DIR / "static"
TIME_ZONE = "Europe/Berlin"
''',
     '''"""Settings for the volunteer-rota project."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["rota.example.org"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rota",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "rota",
        "HOST": os.environ.get("DB_HOST", "localhost"),
    }
}
STATIC_ROOT = BASE_DIR / "static"
TIME_ZONE = "Europe/Berlin"
'''),
    ("debug-bind-all",
     '''import time

from werkzeug.routing import Map, Rule
from werkzeug.serving import run_simple
from werkzeug.wrappers import Request, Response

STARTED = time.time()
url_map = Map([Rule("/health", endpoint="health"), Rule("/echo", endpoint="echo")])


@Request.application
def application(request):
    endpoint, _ = url_map.bind_to_environ(request.environ).match()
    if endpoint == "health":
        return Response(f"up {time.time() - STARTED:.0f}s")
    return Response(request.get_data(as_text=True), mimetype="text/plain")


if __name__ == "__main__":
    run_simple("0.0.0.0", 8080, application, use_debugger=True, use_reloader=True)
''',
     '''import time

from werkzeug.routing import Map, Rule
from werkzeug.serving import run_simple
from werkzeug.wrappers import Request, Response

STARTED = time.time()
url_map = Map([Rule("/health", endpoint="health"), Rule("/echo", endpoint="echo")])


@Request.application
def application(request):
    endpoint, _ = url_map.bind_to_environ(request.environ).match()
    if endpoint == "health":
        return Response(f"up {time.time() - STARTED:.0f}s")
    return Response(request.get_data(as_text=True), mimetype="text/plain")


if __name__ == "__main__":
    run_simple("127.0.0.1", 8080, application, use_reloader=True)
'''),
    ("debug-bind-all",
     '''"""Game server tick loop with a live debug console for inspecting state."""
import asyncio
import random

import aiomonitor

TICK = 0.05


async def simulate(world):
    while True:
        for mob in world["mobs"]:
            mob["x"] += random.choice((-1, 0, 1))
            mob["y"] += random.choice((-1, 0, 1))
        world["tick"] += 1
        await asyncio.sleep(TICK)


async def main():
    world = {"tick": 0, "mobs": [{"id": i, "x": 0, "y": 0} for i in range(50)]}
    loop = asyncio.get_running_loop()
    with aiomonitor.start_monitor(loop, host="0.0.0.0", locals={"world": world}):
        await simulate(world)


if __name__ == "__main__":
    asyncio.run(main())
''',
     '''"""Game server tick loop with a live debug console for inspecting state."""
import asyncio
import random

import aiomonitor

TICK = 0.05


async def simulate(world):
    while True:
        for mob in world["mobs"]:
            mob["x"] += random.choice((-1, 0, 1))
            mob["y"] += random.choice((-1, 0, 1))
        world["tick"] += 1
        await asyncio.sleep(TICK)


async def main():
    world = {"tick": 0, "mobs": [{"id": i, "x": 0, "y": 0} for i in range(50)]}
    loop = asyncio.get_running_loop()
    with aiomonitor.start_monitor(loop, host="127.0.0.1", locals={"world": world}):
        await simulate(world)


if __name__ == "__main__":
    asyncio.run(main())
'''),
    ("debug-bind-all",
     '''"""Gradio demo of the fine-tuned ticket summariser, for the product team."""
import gradio as gr
from transformers import pipeline

summarizer = pipeline("summarization", model="./checkpoints/bart-support-tickets")


def summarise(ticket: str, max_words: int) -> str:
    out = summarizer(ticket, max_length=int(max_words * 1.5), min_length=10, truncation=True)
    return out[0]["summary_text"]


demo = gr.Interface(
    fn=summarise,
    inputs=[gr.Textbox(lines=12, label="Support ticket"), gr.Slider(20, 120, value=60, step=10, label="Max words")],
    outputs=gr.Textbox(label="Summary"),
    title="Ticket summariser",
)

if __name__ == "__main__":
    demo.launch(server_name="0.0.0.0", server_port=7860, share=True, debug=True)
''',
     '''"""Gradio demo of the fine-tuned ticket summariser, for the product team."""
import gradio as gr
from transformers import pipeline

summarizer = pipeline("summarization", model="./checkpoints/bart-support-tickets")


def summarise(ticket: str, max_words: int) -> str:
    out = summarizer(ticket, max_length=int(max_words * 1.5), min_length=10, truncation=True)
    return out[0]["summary_text"]


demo = gr.Interface(
    fn=summarise,
    inputs=[gr.Textbox(lines=12, label="Support ticket"), gr.Slider(20, 120, value=60, step=10, label="Max words")],
    outputs=gr.Textbox(label="Summary"),
    title="Ticket summariser",
)

if __name__ == "__main__":
    demo.launch(server_name="127.0.0.1", server_port=7860)
'''),
    ("weak-cipher",
     '''"""Encrypt and decrypt the connection strings stored in the plugin's settings file."""
import base64
import os

from Crypto.Cipher import ARC2
from Crypto.Util.Padding import pad, unpad

KEY = base64.b64decode(os.environ["SETTINGS_KEY"])


def encrypt_setting(value: str) -> str:
    iv = os.urandom(8)
    cipher = ARC2.new(KEY, ARC2.MODE_CBC, iv)
    return base64.b64encode(iv + cipher.encrypt(pad(value.encode(), 8))).decode()


def decrypt_setting(token: str) -> str:
    raw = base64.b64decode(token)
    cipher = ARC2.new(KEY, ARC2.MODE_CBC, raw[:8])
    return unpad(cipher.decrypt(raw[8:]), 8).decode()


if __name__ == "__main__":
    import sys

    print(encrypt_setting(sys.argv[1]))
''',
     '''"""Encrypt and decrypt the connection strings stored in the plugin's settings file."""
import base64
import os

from Crypto.Cipher import AES

KEY = base64.b64decode(os.environ["SETTINGS_KEY"])


def encrypt_setting(value: str) -> str:
    nonce = os.urandom(12)
    cipher = AES.new(KEY, AES.MODE_GCM, nonce=nonce)
    ciphertext, tag = cipher.encrypt_and_digest(value.encode())
    return base64.b64encode(nonce + tag + ciphertext).decode()


def decrypt_setting(token: str) -> str:
    raw = base64.b64decode(token)
    cipher = AES.new(KEY, AES.MODE_GCM, nonce=raw[:12])
    return cipher.decrypt_and_verify(raw[28:], raw[12:28]).decode()


if __name__ == "__main__":
    import sys

    print(encrypt_setting(sys.argv[1]))
'''),
    ("weak-cipher",
     '''import json
import os

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad

SAVE_KEY = bytes.fromhex(os.environ["SAVE_KEY_HEX"])


def write_save(path, state):
    data = pad(json.dumps(state).encode(), AES.block_size)
    with open(path, "wb") as fh:
        fh.write(AES.new(SAVE_KEY, AES.MODE_ECB).encrypt(data))


def read_save(path):
    with open(path, "rb") as fh:
        blob = fh.read()
    data = unpad(AES.new(SAVE_KEY, AES.MODE_ECB).decrypt(blob), AES.block_size)
    return json.loads(data)


if __name__ == "__main__":
    write_save("slot1.bin", {"level": 4, "gold": 1250, "items": ["lantern", "rope"]})
    print(read_save("slot1.bin"))
''',
     '''import json
import os

from Crypto.Cipher import AES

SAVE_KEY = bytes.fromhex(os.environ["SAVE_KEY_HEX"])


def write_save(path, state):
    cipher = AES.new(SAVE_KEY, AES.MODE_GCM)
    ciphertext, tag = cipher.encrypt_and_digest(json.dumps(state).encode())
    with open(path, "wb") as fh:
        fh.write(cipher.nonce + tag + ciphertext)


def read_save(path):
    with open(path, "rb") as fh:
        blob = fh.read()
    cipher = AES.new(SAVE_KEY, AES.MODE_GCM, nonce=blob[:16])
    return json.loads(cipher.decrypt_and_verify(blob[32:], blob[16:32]))


if __name__ == "__main__":
    write_save("slot1.bin", {"level": 4, "gold": 1250, "items": ["lantern", "rope"]})
    print(read_save("slot1.bin"))
'''),
    ("weak-cipher",
     '''"""Chat relay client: messages are encrypted with the room's shared key before they are sent."""
import asyncio
import os
import struct

from Crypto.Cipher import Blowfish
from Crypto.Util.Padding import pad, unpad

ROOM_KEY = bytes.fromhex(os.environ["ROOM_KEY"])


def seal(plaintext: bytes) -> bytes:
    iv = os.urandom(8)
    return iv + Blowfish.new(ROOM_KEY, Blowfish.MODE_CBC, iv).encrypt(pad(plaintext, 8))


def open_sealed(blob: bytes) -> bytes:
    return unpad(Blowfish.new(ROOM_KEY, Blowfish.MODE_CBC, blob[:8]).decrypt(blob[8:]), 8)


async def send(writer: asyncio.StreamWriter, text: str) -> None:
    blob = seal(text.encode())
    writer.write(struct.pack("!I", len(blob)) + blob)
    await writer.drain()


async def receive(reader: asyncio.StreamReader) -> str:
    (length,) = struct.unpack("!I", await reader.readexactly(4))
    return open_sealed(await reader.readexactly(length)).decode()
''',
     '''"""Chat relay client: messages are encrypted with the room's shared key before they are sent."""
import asyncio
import os
import struct

from Crypto.Cipher import ChaCha20_Poly1305

ROOM_KEY = bytes.fromhex(os.environ["ROOM_KEY"])


def seal(plaintext: bytes) -> bytes:
    cipher = ChaCha20_Poly1305.new(key=ROOM_KEY)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return cipher.nonce + tag + ciphertext


def open_sealed(blob: bytes) -> bytes:
    cipher = ChaCha20_Poly1305.new(key=ROOM_KEY, nonce=blob[:12])
    return cipher.decrypt_and_verify(blob[28:], blob[12:28])


async def send(writer: asyncio.StreamWriter, text: str) -> None:
    blob = seal(text.encode())
    writer.write(struct.pack("!I", len(blob)) + blob)
    await writer.drain()


async def receive(reader: asyncio.StreamReader) -> str:
    (length,) = struct.unpack("!I", await reader.readexactly(4))
    return open_sealed(await reader.readexactly(length)).decode()
'''),
    ("weak-cipher",
     '''"""Encrypt telemetry payloads before they are queued for upload."""
import json
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

TELEMETRY_KEY = bytes.fromhex(os.environ["TELEMETRY_KEY"])
QUEUE_DIR = "/var/spool/telemetry"


def encrypt_payload(payload: dict) -> bytes:
    encryptor = Cipher(algorithms.ARC4(TELEMETRY_KEY), mode=None).encryptor()
    return encryptor.update(json.dumps(payload).encode()) + encryptor.finalize()


def enqueue(payload: dict, seq: int) -> str:
    os.makedirs(QUEUE_DIR, exist_ok=True)
    path = os.path.join(QUEUE_DIR, f"{seq:010d}.bin")
    with open(path, "wb") as fh:
        fh.write(encrypt_payload(payload))
    return path


if __name__ == "__main__":
    print(enqueue({"cpu": 0.42, "mem": 0.71, "host": os.uname().nodename}, 1))
''',
     '''"""Encrypt telemetry payloads before they are queued for upload."""
import json
import os

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

TELEMETRY_KEY = bytes.fromhex(os.environ["TELEMETRY_KEY"])
QUEUE_DIR = "/var/spool/telemetry"


def encrypt_payload(payload: dict) -> bytes:
    nonce = os.urandom(12)
    return nonce + ChaCha20Poly1305(TELEMETRY_KEY).encrypt(nonce, json.dumps(payload).encode(), None)


def enqueue(payload: dict, seq: int) -> str:
    os.makedirs(QUEUE_DIR, exist_ok=True)
    path = os.path.join(QUEUE_DIR, f"{seq:010d}.bin")
    with open(path, "wb") as fh:
        fh.write(encrypt_payload(payload))
    return path


if __name__ == "__main__":
    print(enqueue({"cpu": 0.42, "mem": 0.71, "host": os.uname().nodename}, 1))
'''),
    ("weak-cipher",
     '''"""Issue encrypted licence files for the desktop level editor."""
import json
import os
from datetime import date, timedelta

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

LICENCE_KEY = bytes.fromhex(os.environ["LICENCE_KEY_HEX"])


def issue_licence(customer: str, seats: int, days: int = 365) -> bytes:
    body = json.dumps({
        "customer": customer,
        "seats": seats,
        "expires": (date.today() + timedelta(days=days)).isoformat(),
    }).encode()
    iv = os.urandom(8)
    encryptor = Cipher(algorithms.IDEA(LICENCE_KEY), modes.CFB(iv)).encryptor()
    return iv + encryptor.update(body) + encryptor.finalize()


def read_licence(blob: bytes) -> dict:
    decryptor = Cipher(algorithms.IDEA(LICENCE_KEY), modes.CFB(blob[:8])).decryptor()
    return json.loads(decryptor.update(blob[8:]) + decryptor.finalize())


if __name__ == "__main__":
    import sys

    with open(f"{sys.argv[1]}.lic", "wb") as fh:
        fh.write(issue_licence(sys.argv[1], int(sys.argv[2])))
''',
     '''"""Issue encrypted licence files for the desktop level editor."""
import json
import os
from datetime import date, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LICENCE_KEY = bytes.fromhex(os.environ["LICENCE_KEY_HEX"])


def issue_licence(customer: str, seats: int, days: int = 365) -> bytes:
    body = json.dumps({
        "customer": customer,
        "seats": seats,
        "expires": (date.today() + timedelta(days=days)).isoformat(),
    }).encode()
    nonce = os.urandom(12)
    return nonce + AESGCM(LICENCE_KEY).encrypt(nonce, body, None)


def read_licence(blob: bytes) -> dict:
    return json.loads(AESGCM(LICENCE_KEY).decrypt(blob[:12], blob[12:], None))


if __name__ == "__main__":
    import sys

    with open(f"{sys.argv[1]}.lic", "wb") as fh:
        fh.write(issue_licence(sys.argv[1], int(sys.argv[2])))
'''),
    ("weak-cipher",
     '''"""Pseudonymise e-mail addresses in the analytics export so that rows can still be joined."""
import base64
import csv
import os
import sys

from Crypto.Cipher import DES
from Crypto.Util.Padding import pad

KEY = bytes.fromhex(os.environ["PSEUDONYM_KEY"])


def pseudonym(email: str) -> str:
    cipher = DES.new(KEY, DES.MODE_ECB)
    token = cipher.encrypt(pad(email.strip().lower().encode(), DES.block_size))
    return base64.urlsafe_b64encode(token).decode()


def main(src, dst):
    with open(src, newline="") as fin, open(dst, "w", newline="") as fout:
        reader = csv.DictReader(fin)
        writer = csv.DictWriter(fout, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            row["email"] = pseudonym(row["email"])
            writer.writerow(row)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
''',
     '''"""Pseudonymise e-mail addresses in the analytics export so that rows can still be joined."""
import base64
import csv
import os
import sys

from Crypto.Cipher import AES

KEY = bytes.fromhex(os.environ["PSEUDONYM_KEY"])


def pseudonym(email: str) -> str:
    cipher = AES.new(KEY, AES.MODE_SIV)
    ciphertext, tag = cipher.encrypt_and_digest(email.strip().lower().encode())
    return base64.urlsafe_b64encode(tag + ciphertext).decode()


def main(src, dst):
    with open(src, newline="") as fin, open(dst, "w", newline="") as fout:
        reader = csv.DictReader(fin)
        writer = csv.DictWriter(fout, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            row["email"] = pseudonym(row["email"])
            writer.writerow(row)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
'''),
    ("jwt-no-verify",
     '''import os
from functools import wraps

import jwt
from flask import Flask, g, jsonify, request

app = Flask(__name__)
JWT_SECRET = os.environ["JWT_SECRET"]


def require_token(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return jsonify(error="missing token"), 401
        try:
            g.claims = jwt.decode(header[7:], options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return jsonify(error="invalid token"), 401
        return view(*args, **kwargs)
    return wrapper


@app.get("/me")
@require_token
def me():
    return jsonify(user=g.claims["sub"], roles=g.claims.get("roles", []))
''',
     '''import os
from functools import wraps

import jwt
from flask import Flask, g, jsonify, request

app = Flask(__name__)
JWT_SECRET = os.environ["JWT_SECRET"]


def require_token(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return jsonify(error="missing token"), 401
        try:
            g.claims = jwt.decode(header[7:], JWT_SECRET, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return jsonify(error="invalid token"), 401
        return view(*args, **kwargs)
    return wrapper


@app.get("/me")
@require_token
def me():
    return jsonify(user=g.claims["sub"], roles=g.claims.get("roles", []))
'''),
    ("jwt-no-verify",
     '''import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

with open("/etc/api/jwt_public.pem") as _fh:
    PUBLIC_KEY = _fh.read()
app = FastAPI()
bearer = HTTPBearer()


def current_tenant(creds: HTTPAuthorizationCredentials = Depends(bearer)) -> str:
    try:
        claims = jwt.decode(creds.credentials, PUBLIC_KEY, verify=False)
    except jwt.PyJWTError as exc:
        raise HTTPException(status_code=401, detail=str(exc))
    return claims["tenant"]


@app.get("/invoices")
def invoices(tenant: str = Depends(current_tenant)):
    return {"tenant": tenant, "invoices": []}
''',
     '''import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

with open("/etc/api/jwt_public.pem") as _fh:
    PUBLIC_KEY = _fh.read()
app = FastAPI()
bearer = HTTPBearer()


def current_tenant(creds: HTTPAuthorizationCredentials = Depends(bearer)) -> str:
    try:
        claims = jwt.decode(creds.credentials, PUBLIC_KEY, algorithms=["RS256"], audience="billing-api")
    except jwt.PyJWTError as exc:
        raise HTTPException(status_code=401, detail=str(exc))
    return claims["tenant"]


@app.get("/invoices")
def invoices(tenant: str = Depends(current_tenant)):
    return {"tenant": tenant, "invoices": []}
'''),
    ("jwt-no-verify",
     '''"""API Gateway authorizer: allow the request if its Cognito token carries the admin group."""
import json
import os
import urllib.request

from jose import jwt

REGION = os.environ["AWS_REGION"]
POOL_ID = os.environ["USER_POOL_ID"]
CLIENT_ID = os.environ["APP_CLIENT_ID"]
JWKS_URL = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}/.well-known/jwks.json"
with urllib.request.urlopen(JWKS_URL) as _resp:
    JWKS = json.load(_resp)


def handler(event, context):
    token = event["authorizationToken"].removeprefix("Bearer ")
    claims = jwt.get_unverified_claims(token)
    allowed = "admin" in claims.get("cognito:groups", [])
    return {
        "principalId": claims.get("sub", "anonymous"),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny",
                           "Resource": event["methodArn"]}],
        },
    }
''',
     '''"""API Gateway authorizer: allow the request if its Cognito token carries the admin group."""
import json
import os
import urllib.request

from jose import jwt

REGION = os.environ["AWS_REGION"]
POOL_ID = os.environ["USER_POOL_ID"]
CLIENT_ID = os.environ["APP_CLIENT_ID"]
JWKS_URL = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}/.well-known/jwks.json"
with urllib.request.urlopen(JWKS_URL) as _resp:
    JWKS = json.load(_resp)


def handler(event, context):
    token = event["authorizationToken"].removeprefix("Bearer ")
    claims = jwt.decode(token, JWKS, algorithms=["RS256"], audience=CLIENT_ID)
    allowed = "admin" in claims.get("cognito:groups", [])
    return {
        "principalId": claims.get("sub", "anonymous"),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny",
                           "Resource": event["methodArn"]}],
        },
    }
'''),
    ("jwt-no-verify",
     '''import os

from aiohttp import web
from jose import JWTError, jwt

SECRET = os.environ["SESSION_JWT_SECRET"]


@web.middleware
async def auth_middleware(request, handler):
    if request.path.startswith("/public/"):
        return await handler(request)
    token = request.cookies.get("session")
    if not token:
        raise web.HTTPUnauthorized()
    try:
        request["user"] = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_signature": False})
    except JWTError:
        raise web.HTTPUnauthorized()
    return await handler(request)


async def dashboard(request):
    return web.json_response({"hello": request["user"]["name"]})


app = web.Application(middlewares=[auth_middleware])
app.router.add_get("/dashboard", dashboard)
''',
     '''import os

from aiohttp import web
from jose import JWTError, jwt

SECRET = os.environ["SESSION_JWT_SECRET"]


@web.middleware
async def auth_middleware(request, handler):
    if request.path.startswith("/public/"):
        return await handler(request)
    token = request.cookies.get("session")
    if not token:
        raise web.HTTPUnauthorized()
    try:
        request["user"] = jwt.decode(token, SECRET, algorithms=["HS256"])
    except JWTError:
        raise web.HTTPUnauthorized()
    return await handler(request)


async def dashboard(request):
    return web.json_response({"hello": request["user"]["name"]})


app = web.Application(middlewares=[auth_middleware])
app.router.add_get("/dashboard", dashboard)
'''),
    ("jwt-no-verify",
     '''import jwt
import requests
from django.http import JsonResponse

JWKS_URL = "https://login.partner.example/.well-known/jwks.json"
AUDIENCE = "orders-api"
_keys = {}


def signing_key(kid):
    if kid not in _keys:
        for jwk in requests.get(JWKS_URL, timeout=5).json()["keys"]:
            _keys[jwk["kid"]] = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
    return _keys[kid]


def partner_orders(request):
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.InvalidTokenError, KeyError):
        return JsonResponse({"error": "invalid token"}, status=401)
    if claims.get("aud") != AUDIENCE:
        return JsonResponse({"error": "wrong audience"}, status=403)
    return JsonResponse({"partner": claims["sub"], "key_id": header["kid"], "orders": []})
''',
     '''import jwt
import requests
from django.http import JsonResponse

JWKS_URL = "https://login.partner.example/.well-known/jwks.json"
AUDIENCE = "orders-api"
_keys = {}


def signing_key(kid):
    if kid not in _keys:
        for jwk in requests.get(JWKS_URL, timeout=5).json()["keys"]:
            _keys[jwk["kid"]] = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
    return _keys[kid]


def partner_orders(request):
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, signing_key(header["kid"]), algorithms=["RS256"], audience=AUDIENCE)
    except (jwt.InvalidTokenError, KeyError):
        return JsonResponse({"error": "invalid token"}, status=401)
    if claims.get("aud") != AUDIENCE:
        return JsonResponse({"error": "wrong audience"}, status=403)
    return JsonResponse({"partner": claims["sub"], "key_id": header["kid"], "orders": []})
'''),
    ("jwt-no-verify",
     '''import os

import jwt
import tornado.websocket

LOBBY_SECRET = os.environ["LOBBY_SECRET"]
players: dict[str, "LobbySocket"] = {}


class LobbySocket(tornado.websocket.WebSocketHandler):
    def open(self):
        token = self.get_query_argument("token")
        try:
            self.player = jwt.decode(token, algorithms=["HS256"], options={"verify_signature": False})["sub"]
        except jwt.InvalidTokenError:
            self.close(code=4001, reason="bad token")
            return
        players[self.player] = self
        self.broadcast({"joined": self.player, "online": sorted(players)})

    def on_message(self, message):
        self.broadcast({"from": self.player, "text": message[:500]})

    def on_close(self):
        if players.pop(getattr(self, "player", None), None):
            self.broadcast({"left": self.player, "online": sorted(players)})

    @staticmethod
    def broadcast(event):
        for sock in players.values():
            sock.write_message(event)
''',
     '''import os

import jwt
import tornado.websocket

LOBBY_SECRET = os.environ["LOBBY_SECRET"]
players: dict[str, "LobbySocket"] = {}


class LobbySocket(tornado.websocket.WebSocketHandler):
    def open(self):
        token = self.get_query_argument("token")
        try:
            self.player = jwt.decode(token, LOBBY_SECRET, algorithms=["HS256"])["sub"]
        except jwt.InvalidTokenError:
            self.close(code=4001, reason="bad token")
            return
        players[self.player] = self
        self.broadcast({"joined": self.player, "online": sorted(players)})

    def on_message(self, message):
        self.broadcast({"from": self.player, "text": message[:500]})

    def on_close(self):
        if players.pop(getattr(self, "player", None), None):
            self.broadcast({"left": self.player, "online": sorted(players)})

    @staticmethod
    def broadcast(event):
        for sock in players.values():
            sock.write_message(event)
'''),
    ("permissive-permissions",
     r'''"""Create a WireGuard key pair and client config for a new peer of the office VPN."""
import base64
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

SERVER_PUBLIC_KEY = "hR3mVq0pZ2Xw9bTnL6cYs4JdE8fGk1aU7oPiN5rMq0E="
ENDPOINT = "vpn.office.example:51820"
RAW = serialization.Encoding.Raw


def new_peer(name, address):
    private = x25519.X25519PrivateKey.generate()
    private_raw = private.private_bytes(RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public_raw = private.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
    conf_path = f"{name}.conf"
    with open(conf_path, "w") as fh:
        fh.write(f"[Interface]\nPrivateKey = {base64.b64encode(private_raw).decode()}\nAddress = {address}/32\n\n"
                 f"[Peer]\nPublicKey = {SERVER_PUBLIC_KEY}\nEndpoint = {ENDPOINT}\nAllowedIPs = 10.8.0.0/16\n")
    os.chmod(conf_path, 0o777)
    return base64.b64encode(public_raw).decode()


if __name__ == "__main__":
    print("add this peer on the server:", new_peer(sys.argv[1], sys.argv[2]))
''',
     r'''"""Create a WireGuard key pair and client config for a new peer of the office VPN."""
import base64
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

SERVER_PUBLIC_KEY = "hR3mVq0pZ2Xw9bTnL6cYs4JdE8fGk1aU7oPiN5rMq0E="
ENDPOINT = "vpn.office.example:51820"
RAW = serialization.Encoding.Raw


def new_peer(name, address):
    private = x25519.X25519PrivateKey.generate()
    private_raw = private.private_bytes(RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public_raw = private.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
    conf_path = f"{name}.conf"
    with open(conf_path, "w") as fh:
        fh.write(f"[Interface]\nPrivateKey = {base64.b64encode(private_raw).decode()}\nAddress = {address}/32\n\n"
                 f"[Peer]\nPublicKey = {SERVER_PUBLIC_KEY}\nEndpoint = {ENDPOINT}\nAllowedIPs = 10.8.0.0/16\n")
    os.chmod(conf_path, 0o600)
    return base64.b64encode(public_raw).decode()


if __name__ == "__main__":
    print("add this peer on the server:", new_peer(sys.argv[1], sys.argv[2]))
'''),
    ("permissive-permissions",
     '''import json
import os
import time

CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "gdrive-sync")


def token_path(account):
    os.makedirs(CACHE_DIR, mode=0o777, exist_ok=True)
    return os.path.join(CACHE_DIR, f"{account}.json")


def store_token(account, access_token, expires_in):
    with open(token_path(account), "w") as fh:
        json.dump({"access_token": access_token, "expires_at": time.time() + expires_in}, fh)


def cached_token(account):
    try:
        with open(token_path(account)) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None
    return data["access_token"] if data["expires_at"] > time.time() + 60 else None
''',
     '''import json
import os
import time

CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "gdrive-sync")


def token_path(account):
    os.makedirs(CACHE_DIR, mode=0o700, exist_ok=True)
    return os.path.join(CACHE_DIR, f"{account}.json")


def store_token(account, access_token, expires_in):
    with open(token_path(account), "w") as fh:
        json.dump({"access_token": access_token, "expires_at": time.time() + expires_in}, fh)


def cached_token(account):
    try:
        with open(token_path(account)) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None
    return data["access_token"] if data["expires_at"] > time.time() + 60 else None
'''),
    ("permissive-permissions",
     '''"""Metrics collector daemon: writes per-host CSV snapshots into a spool directory."""
import csv
import os
import socket
import time

import psutil

os.umask(0)
SPOOL = "/var/spool/metrics"


def snapshot():
    return {
        "ts": int(time.time()),
        "host": socket.gethostname(),
        "cpu": psutil.cpu_percent(interval=1),
        "mem": psutil.virtual_memory().percent,
        "load1": os.getloadavg()[0],
    }


def run(interval=60):
    os.makedirs(SPOOL, exist_ok=True)
    while True:
        row = snapshot()
        path = os.path.join(SPOOL, f"{row['host']}-{time.strftime('%Y%m%d')}.csv")
        new = not os.path.exists(path)
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        time.sleep(interval - 1)


if __name__ == "__main__":
    run()
''',
     '''"""Metrics collector daemon: writes per-host CSV snapshots into a spool directory."""
import csv
import os
import socket
import time

import psutil

os.umask(0o027)
SPOOL = "/var/spool/metrics"


def snapshot():
    return {
        "ts": int(time.time()),
        "host": socket.gethostname(),
        "cpu": psutil.cpu_percent(interval=1),
        "mem": psutil.virtual_memory().percent,
        "load1": os.getloadavg()[0],
    }


def run(interval=60):
    os.makedirs(SPOOL, exist_ok=True)
    while True:
        row = snapshot()
        path = os.path.join(SPOOL, f"{row['host']}-{time.strftime('%Y%m%d')}.csv")
        new = not os.path.exists(path)
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        time.sleep(interval - 1)


if __name__ == "__main__":
    run()
'''),
    ("permissive-permissions",
     '''from pathlib import Path

import yaml


def write_kubeconfig(cluster: str, server: str, ca_data: str, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": f"{cluster}-admin", "user": {"token": token}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"{cluster}-admin"}}],
        "current-context": cluster,
    }
    path = Path.home() / ".kube" / f"{cluster}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o666)
    return path


if __name__ == "__main__":
    import os

    server = "https://k8s.staging.example:6443"
    print(write_kubeconfig("staging", server, os.environ["CA_DATA"], os.environ["KUBE_TOKEN"]))
''',
     '''from pathlib import Path

import yaml


def write_kubeconfig(cluster: str, server: str, ca_data: str, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": f"{cluster}-admin", "user": {"token": token}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"{cluster}-admin"}}],
        "current-context": cluster,
    }
    path = Path.home() / ".kube" / f"{cluster}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


if __name__ == "__main__":
    import os

    server = "https://k8s.staging.example:6443"
    print(write_kubeconfig("staging", server, os.environ["CA_DATA"], os.environ["KUBE_TOKEN"]))
'''),
    ("permissive-permissions",
     '''import json
import os

CRED_FILE = os.path.expanduser("~/.config/acmectl/credentials.json")


def save_credentials(profile: str, key_id: str, secret: str) -> None:
    os.makedirs(os.path.dirname(CRED_FILE), exist_ok=True)
    try:
        with open(CRED_FILE) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        data = {}
    data[profile] = {"key_id": key_id, "secret": secret}
    with open(CRED_FILE, "w") as fh:
        os.fchmod(fh.fileno(), 0o644)
        json.dump(data, fh, indent=2)


if __name__ == "__main__":
    import argparse
    import getpass

    parser = argparse.ArgumentParser(description="Store an acmectl access key.")
    parser.add_argument("--profile", default="default")
    parser.add_argument("key_id")
    args = parser.parse_args()
    save_credentials(args.profile, args.key_id, getpass.getpass("secret: "))
''',
     '''import json
import os

CRED_FILE = os.path.expanduser("~/.config/acmectl/credentials.json")


def save_credentials(profile: str, key_id: str, secret: str) -> None:
    os.makedirs(os.path.dirname(CRED_FILE), exist_ok=True)
    try:
        with open(CRED_FILE) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        data = {}
    data[profile] = {"key_id": key_id, "secret": secret}
    with open(CRED_FILE, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)
        json.dump(data, fh, indent=2)


if __name__ == "__main__":
    import argparse
    import getpass

    parser = argparse.ArgumentParser(description="Store an acmectl access key.")
    parser.add_argument("--profile", default="default")
    parser.add_argument("key_id")
    args = parser.parse_args()
    save_credentials(args.profile, args.key_id, getpass.getpass("secret: "))
'''),
    ("permissive-permissions",
     '''#!/usr/bin/env python3
"""certbot deploy hook: copy the renewed certificate to nginx and prepare the ACME challenge directory."""
import os
import shutil
import subprocess

LIVE = os.path.join("/etc/letsencrypt/live", os.environ.get("CERT_NAME", "example.org"))
TARGET = "/etc/nginx/tls"
WEB_ROOT = "/var/www/acme"


def deploy():
    os.makedirs(TARGET, exist_ok=True)
    os.makedirs(WEB_ROOT, exist_ok=True)
    os.chmod(WEB_ROOT, 0o755)
    cert = shutil.copy(os.path.join(LIVE, "fullchain.pem"), os.path.join(TARGET, "fullchain.pem"))
    key = shutil.copy(os.path.join(LIVE, "privkey.pem"), os.path.join(TARGET, "privkey.pem"))
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)
    subprocess.run(["nginx", "-s", "reload"], check=True)


if __name__ == "__main__":
    deploy()
''',
     '''#!/usr/bin/env python3
"""certbot deploy hook: copy the renewed certificate to nginx and prepare the ACME challenge directory."""
import os
import shutil
import subprocess

LIVE = os.path.join("/etc/letsencrypt/live", os.environ.get("CERT_NAME", "example.org"))
TARGET = "/etc/nginx/tls"
WEB_ROOT = "/var/www/acme"


def deploy():
    os.makedirs(TARGET, exist_ok=True)
    os.makedirs(WEB_ROOT, exist_ok=True)
    os.chmod(WEB_ROOT, 0o755)
    cert = shutil.copy(os.path.join(LIVE, "fullchain.pem"), os.path.join(TARGET, "fullchain.pem"))
    key = shutil.copy(os.path.join(LIVE, "privkey.pem"), os.path.join(TARGET, "privkey.pem"))
    os.chmod(cert, 0o644)
    os.chmod(key, 0o600)
    subprocess.run(["nginx", "-s", "reload"], check=True)


if __name__ == "__main__":
    deploy()
'''),
    ("ssh-host-key",
     '''"""Collect root-filesystem usage from every host in the inventory over SSH."""
import paramiko
import yaml


def disk_usage(host, user, key_file):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(host, username=user, key_filename=key_file, timeout=10)
    try:
        _, stdout, _ = client.exec_command("df -P / | tail -1")
        fields = stdout.read().decode().split()
        return int(fields[4].rstrip("%"))
    finally:
        client.close()


if __name__ == "__main__":
    with open("inventory.yml") as fh:
        inventory = yaml.safe_load(fh)
    for host in inventory["hosts"]:
        pct = disk_usage(host, inventory["user"], inventory["key"])
        print(f"{host:<24} {pct:3d}%{'  <-- check' if pct > 85 else ''}")
''',
     '''"""Collect root-filesystem usage from every host in the inventory over SSH."""
import paramiko
import yaml


def disk_usage(host, user, key_file):
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(host, username=user, key_filename=key_file, timeout=10)
    try:
        _, stdout, _ = client.exec_command("df -P / | tail -1")
        fields = stdout.read().decode().split()
        return int(fields[4].rstrip("%"))
    finally:
        client.close()


if __name__ == "__main__":
    with open("inventory.yml") as fh:
        inventory = yaml.safe_load(fh)
    for host in inventory["hosts"]:
        pct = disk_usage(host, inventory["user"], inventory["key"])
        print(f"{host:<24} {pct:3d}%{'  <-- check' if pct > 85 else ''}")
'''),
    ("ssh-host-key",
     '''import os
import posixpath

import paramiko


class ReportUploader:
    def __init__(self, host, username, key_path, remote_dir="/incoming/reports"):
        self.remote_dir = remote_dir
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.WarningPolicy())
        self.client.connect(host, username=username, key_filename=key_path)
        self.sftp = self.client.open_sftp()

    def upload(self, local_path):
        remote = posixpath.join(self.remote_dir, os.path.basename(local_path))
        self.sftp.put(local_path, remote + ".part")
        self.sftp.rename(remote + ".part", remote)
        return remote

    def close(self):
        self.sftp.close()
        self.client.close()


if __name__ == "__main__":
    up = ReportUploader("sftp.bank-partner.example", "acme", os.path.expanduser("~/.ssh/id_ed25519"))
    try:
        for name in sorted(os.listdir("outbox")):
            print("uploaded", up.upload(os.path.join("outbox", name)))
    finally:
        up.close()
''',
     '''import os
import posixpath

import paramiko


class ReportUploader:
    def __init__(self, host, username, key_path, remote_dir="/incoming/reports"):
        self.remote_dir = remote_dir
        self.client = paramiko.SSHClient()
        self.client.load_host_keys(os.path.expanduser("~/.ssh/known_hosts"))
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self.client.connect(host, username=username, key_filename=key_path)
        self.sftp = self.client.open_sftp()

    def upload(self, local_path):
        remote = posixpath.join(self.remote_dir, os.path.basename(local_path))
        self.sftp.put(local_path, remote + ".part")
        self.sftp.rename(remote + ".part", remote)
        return remote

    def close(self):
        self.sftp.close()
        self.client.close()


if __name__ == "__main__":
    up = ReportUploader("sftp.bank-partner.example", "acme", os.path.expanduser("~/.ssh/id_ed25519"))
    try:
        for name in sorted(os.listdir("outbox")):
            print("uploaded", up.upload(os.path.join("outbox", name)))
    finally:
        up.close()
'''),
    ("ssh-host-key",
     '''"""Back up the running configs of the branch switches into a dated folder."""
import datetime
import os
from pathlib import Path

from netmiko import ConnectHandler

SWITCHES = ["10.20.0.2", "10.20.0.3", "10.21.0.2"]


def backup(ip, out_dir):
    device = {
        "device_type": "cisco_ios",
        "host": ip,
        "username": os.environ["NET_USER"],
        "password": os.environ["NET_PASSWORD"],
        "ssh_strict": False,
    }
    with ConnectHandler(**device) as conn:
        config = conn.send_command("show running-config")
    path = out_dir / f"{ip}.cfg"
    path.write_text(config)
    return path


if __name__ == "__main__":
    out = Path("backups") / datetime.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    for ip in SWITCHES:
        print("saved", backup(ip, out))
''',
     '''"""Back up the running configs of the branch switches into a dated folder."""
import datetime
import os
from pathlib import Path

from netmiko import ConnectHandler

SWITCHES = ["10.20.0.2", "10.20.0.3", "10.21.0.2"]


def backup(ip, out_dir):
    device = {
        "device_type": "cisco_ios",
        "host": ip,
        "username": os.environ["NET_USER"],
        "password": os.environ["NET_PASSWORD"],
        "ssh_strict": True,
        "system_host_keys": True,
    }
    with ConnectHandler(**device) as conn:
        config = conn.send_command("show running-config")
    path = out_dir / f"{ip}.cfg"
    path.write_text(config)
    return path


if __name__ == "__main__":
    out = Path("backups") / datetime.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    for ip in SWITCHES:
        print("saved", backup(ip, out))
'''),
    ("ssh-host-key",
     '''"""Rotate the application logs on every worker and report how much space was freed."""
import spur
import spur.ssh

WORKERS = ["worker-01.internal", "worker-02.internal", "worker-03.internal"]


def rotate(host: str) -> int:
    shell = spur.SshShell(
        hostname=host,
        username="ops",
        private_key_file="/home/ops/.ssh/id_ed25519",
        missing_host_key=spur.ssh.MissingHostKey.accept,
    )
    with shell:
        before = int(shell.run(["du", "-sb", "/var/log/app"]).output.split()[0])
        shell.run(["logrotate", "--force", "/etc/logrotate.d/app"])
        after = int(shell.run(["du", "-sb", "/var/log/app"]).output.split()[0])
    return before - after


if __name__ == "__main__":
    for worker in WORKERS:
        print(f"{worker}: freed {rotate(worker) / 2**20:.1f} MiB")
''',
     '''"""Rotate the application logs on every worker and report how much space was freed."""
import spur
import spur.ssh

WORKERS = ["worker-01.internal", "worker-02.internal", "worker-03.internal"]


def rotate(host: str) -> int:
    shell = spur.SshShell(
        hostname=host,
        username="ops",
        private_key_file="/home/ops/.ssh/id_ed25519",
        missing_host_key=spur.ssh.MissingHostKey.raise_error,
    )
    with shell:
        before = int(shell.run(["du", "-sb", "/var/log/app"]).output.split()[0])
        shell.run(["logrotate", "--force", "/etc/logrotate.d/app"])
        after = int(shell.run(["du", "-sb", "/var/log/app"]).output.split()[0])
    return before - after


if __name__ == "__main__":
    for worker in WORKERS:
        print(f"{worker}: freed {rotate(worker) / 2**20:.1f} MiB")
'''),
    ("ssh-host-key",
     '''"""Collect the software version of every edge router into a CSV inventory."""
import csv
import os
import sys

from scrapli import Scrapli

ROUTERS = ["edge-r1.net.example", "edge-r2.net.example", "edge-r3.net.example"]


def version_of(host: str) -> str:
    with Scrapli(host=host, platform="cisco_iosxe", auth_username=os.environ["NET_USER"],
                 auth_password=os.environ["NET_PASSWORD"], auth_strict_key=False) as conn:
        response = conn.send_command("show version | include Version")
    return response.result.strip()


if __name__ == "__main__":
    writer = csv.writer(sys.stdout)
    writer.writerow(["router", "version"])
    for router in ROUTERS:
        writer.writerow([router, version_of(router)])
''',
     '''"""Collect the software version of every edge router into a CSV inventory."""
import csv
import os
import sys

from scrapli import Scrapli

ROUTERS = ["edge-r1.net.example", "edge-r2.net.example", "edge-r3.net.example"]


def version_of(host: str) -> str:
    with Scrapli(host=host, platform="cisco_iosxe", auth_username=os.environ["NET_USER"],
                 auth_password=os.environ["NET_PASSWORD"], auth_strict_key=True,
                 ssh_known_hosts_file="/etc/ssh/ssh_known_hosts") as conn:
        response = conn.send_command("show version | include Version")
    return response.result.strip()


if __name__ == "__main__":
    writer = csv.writer(sys.stdout)
    writer.writerow(["router", "version"])
    for router in ROUTERS:
        writer.writerow([router, version_of(router)])
'''),
    ("ssh-host-key",
     '''"""Run the patching playbook against one inventory group and summarise the result."""
import os
import sys

import ansible_runner

os.environ["ANSIBLE_HOST_KEY_CHECKING"] = "False"


def patch(group: str) -> int:
    result = ansible_runner.run(
        private_data_dir="/opt/patching",
        playbook="patch.yml",
        limit=group,
        extravars={"reboot_if_needed": True},
        quiet=True,
    )
    for host, count in sorted(result.stats.get("failures", {}).items()):
        print(f"{host}: {count} failed tasks")
    print(f"{group}: {result.status} (rc={result.rc})")
    return result.rc


if __name__ == "__main__":
    sys.exit(patch(sys.argv[1] if len(sys.argv) > 1 else "canary"))
''',
     '''"""Run the patching playbook against one inventory group and summarise the result."""
import os
import sys

import ansible_runner

os.environ["ANSIBLE_HOST_KEY_CHECKING"] = "True"


def patch(group: str) -> int:
    result = ansible_runner.run(
        private_data_dir="/opt/patching",
        playbook="patch.yml",
        limit=group,
        extravars={"reboot_if_needed": True},
        quiet=True,
    )
    for host, count in sorted(result.stats.get("failures", {}).items()):
        print(f"{host}: {count} failed tasks")
    print(f"{group}: {result.status} (rc={result.rc})")
    return result.rc


if __name__ == "__main__":
    sys.exit(patch(sys.argv[1] if len(sys.argv) > 1 else "canary"))
'''),
]
