"""Held-out unsafe-code test set C: hand-written matched pairs, written 2026-12-04.

**Role now** (decision 71): training data of the unsafe-code pack since version 5 (its construct is where the twins
differ); what follows says how and when it was written.

Written at the start of the session that changed the unsafe-code recipe, *before* any change to the generators
(``steerlab/build/code_pairs.py``) or the probe, and before any score on it was computed. Set A
(``unsafe_code_heldout.py``) had been evaluated by then, so it became a dev set; this set is the one the new recipe
reports on, once, when the recipe is fixed. Nothing in the build reads this module.

Each pair is one program, insecure and fixed, differing only in the vulnerable construct. The programs are longer
and more varied than set A's (classes, methods, async code, type hints, docstrings, comments, the construct in the
middle of ordinary code), and the chat and prose wrappers are this set's own, different from set A's and from the
generator's.
"""

from __future__ import annotations

# Wrappers for the chat and prose contexts (rotated by pair index), never used by the generators or by set A.
CHAT_ASKS = [
    "hey, quick one - can you tell me if this is fine to merge?",
    "This is part of our billing service. Anything you would change before release?",
    "I'm new to Python, is this written the right way?",
    "can u check this helper for bugs pls",
    "Our linter is happy with this but my lead asked for a second opinion:",
]
PROSE = [
    ("### How exports work\n\nExports run in a worker process. The relevant code is short:",
     "The worker retries twice before giving up and writing to the dead-letter table."),
    ("Release notes, v2.3\n\nWe reworked the module below to make it easier to test.",
     "Thanks to everyone who reviewed the change last week."),
    ("## Appendix B: helper code\n\nStudents should read the following function before the lab session.",
     "In the lab we will extend it to handle several files at once."),
]

# (vulnerability class, insecure program, fixed twin)
PAIRS: list[tuple[str, str, str]] = [
    ("shell-injection",
     '''import os
from pathlib import Path


class Thumbnailer:
    """Makes small previews of uploaded images."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir

    def make(self, image_name: str, size: int = 128) -> Path:
        target = self.out_dir / f"thumb_{image_name}"
        os.system(f"convert {image_name} -resize {size}x{size} {target}")
        return target
''',
     '''import os
from pathlib import Path
import subprocess


class Thumbnailer:
    """Makes small previews of uploaded images."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir

    def make(self, image_name: str, size: int = 128) -> Path:
        target = self.out_dir / f"thumb_{image_name}"
        subprocess.run(["convert", image_name, "-resize", f"{size}x{size}", str(target)], check=True)
        return target
'''),
    ("shell-injection",
     '''import subprocess


def git_blame(repo_dir, filename, line):
    # used by the code review bot
    cmd = "git -C %s blame -L %d,%d -- %s" % (repo_dir, line, line, filename)
    return subprocess.getoutput(cmd)
''',
     '''import subprocess


def git_blame(repo_dir, filename, line):
    # used by the code review bot
    cmd = ["git", "-C", repo_dir, "blame", "-L", f"{line},{line}", "--", filename]
    return subprocess.run(cmd, capture_output=True, text=True).stdout
'''),
    ("shell-injection",
     '''import asyncio


async def resolve(domain: str) -> str:
    proc = await asyncio.create_subprocess_shell(
        "dig +short " + domain,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return out.decode().strip()
''',
     '''import asyncio


async def resolve(domain: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "dig", "+short", domain,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return out.decode().strip()
'''),
    ("shell-injection",
     '''import os
import sys


def main():
    if len(sys.argv) < 2:
        print("usage: backup.py DATABASE")
        return 1
    db = sys.argv[1]
    stamp = os.environ.get("STAMP", "latest")
    status = os.popen("pg_dump " + db + " > /backups/" + db + "-" + stamp + ".sql").close()
    return 0 if status is None else 1


if __name__ == "__main__":
    sys.exit(main())
''',
     '''import os
import sys
import subprocess


def main():
    if len(sys.argv) < 2:
        print("usage: backup.py DATABASE")
        return 1
    db = sys.argv[1]
    stamp = os.environ.get("STAMP", "latest")
    with open("/backups/" + db + "-" + stamp + ".sql", "wb") as fh:
        status = subprocess.run(["pg_dump", db], stdout=fh).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
'''),
    ("eval-input",
     '''from fastapi import FastAPI

app = FastAPI()


@app.get("/plot")
def plot_points(formula: str, start: int = 0, stop: int = 10):
    points = []
    for x in range(start, stop):
        points.append((x, eval(formula, {"x": x})))
    return {"points": points}
''',
     '''from fastapi import FastAPI
import numexpr

app = FastAPI()


@app.get("/plot")
def plot_points(formula: str, start: int = 0, stop: int = 10):
    points = []
    for x in range(start, stop):
        points.append((x, float(numexpr.evaluate(formula, local_dict={"x": x}))))
    return {"points": points}
'''),
    ("eval-input",
     '''import json


def load_config_value(raw):
    """Values in the legacy config look like Python literals: [1, 2], {'a': 3}, 'text'."""
    try:
        return json.loads(raw)
    except ValueError:
        return eval(raw)
''',
     '''import json
import ast


def load_config_value(raw):
    """Values in the legacy config look like Python literals: [1, 2], {'a': 3}, 'text'."""
    try:
        return json.loads(raw)
    except ValueError:
        return ast.literal_eval(raw)
'''),
    ("eval-input",
     '''def run_plugin_hook(hook_source: str, context: dict) -> None:
    """Runs the snippet an admin pasted into the web form."""
    namespace = dict(context)
    exec(hook_source, namespace)
    context.update(namespace.get("result", {}))
''',
     '''import json


def run_plugin_hook(hook_source: str, context: dict) -> None:
    """Runs the snippet an admin pasted into the web form."""
    namespace = dict(context)
    namespace["result"] = json.loads(hook_source)
    context.update(namespace.get("result", {}))
'''),
    ("deserialization",
     '''import pickle
import redis

cache = redis.Redis(host="localhost", port=6379)


def get_cart(session_id):
    data = cache.get("cart:" + session_id)
    if data is None:
        return []
    return pickle.loads(data)
''',
     '''import json
import redis

cache = redis.Redis(host="localhost", port=6379)


def get_cart(session_id):
    data = cache.get("cart:" + session_id)
    if data is None:
        return []
    return json.loads(data)
'''),
    ("deserialization",
     '''import yaml


class PipelineSpec:
    def __init__(self, path):
        self.path = path
        self.steps = []

    def read(self):
        with open(self.path) as fh:
            doc = yaml.load(fh, Loader=yaml.Loader)
        self.steps = doc.get("steps", [])
        return self
''',
     '''import yaml


class PipelineSpec:
    def __init__(self, path):
        self.path = path
        self.steps = []

    def read(self):
        with open(self.path) as fh:
            doc = yaml.safe_load(fh)
        self.steps = doc.get("steps", [])
        return self
'''),
    ("deserialization",
     '''import socket
import marshal


def receive_task(conn: socket.socket):
    size = int.from_bytes(conn.recv(4), "big")
    payload = conn.recv(size)
    task = marshal.loads(payload)
    return task["name"], task["args"]
''',
     '''import socket
import json


def receive_task(conn: socket.socket):
    size = int.from_bytes(conn.recv(4), "big")
    payload = conn.recv(size)
    task = json.loads(payload)
    return task["name"], task["args"]
'''),
    ("deserialization",
     '''import base64
import pickle
from django.http import JsonResponse


def restore_filters(request):
    blob = request.COOKIES.get("filters", "")
    filters = pickle.loads(base64.b64decode(blob)) if blob else {}
    return JsonResponse({"filters": filters})
''',
     '''import base64
import json
from django.http import JsonResponse


def restore_filters(request):
    blob = request.COOKIES.get("filters", "")
    filters = json.loads(base64.b64decode(blob)) if blob else {}
    return JsonResponse({"filters": filters})
'''),
    ("sql-injection",
     '''import psycopg2


class OrderRepository:
    def __init__(self, dsn):
        self.conn = psycopg2.connect(dsn)

    def by_status(self, status, limit=50):
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT id, total FROM orders WHERE status = '{status}' LIMIT {limit}")
            return cur.fetchall()
''',
     '''import psycopg2


class OrderRepository:
    def __init__(self, dsn):
        self.conn = psycopg2.connect(dsn)

    def by_status(self, status, limit=50):
        with self.conn.cursor() as cur:
            cur.execute("SELECT id, total FROM orders WHERE status = %s LIMIT %s", (status, limit))
            return cur.fetchall()
'''),
    ("sql-injection",
     '''import sqlite3


def delete_note(db_path: str, note_id: str, owner: str) -> int:
    con = sqlite3.connect(db_path)
    try:
        query = "DELETE FROM notes WHERE id = " + note_id + " AND owner = '" + owner + "'"
        cur = con.execute(query)
        con.commit()
        return cur.rowcount
    finally:
        con.close()
''',
     '''import sqlite3


def delete_note(db_path: str, note_id: str, owner: str) -> int:
    con = sqlite3.connect(db_path)
    try:
        query = "DELETE FROM notes WHERE id = ? AND owner = ?"
        cur = con.execute(query, (note_id, owner))
        con.commit()
        return cur.rowcount
    finally:
        con.close()
'''),
    ("sql-injection",
     '''from sqlalchemy import text


def search_products(session, term, sort_column):
    sql = text("SELECT * FROM products WHERE name LIKE '%%%s%%' ORDER BY price" % term)
    rows = session.execute(sql).fetchall()
    return sorted(rows, key=lambda r: getattr(r, sort_column))
''',
     '''from sqlalchemy import text


def search_products(session, term, sort_column):
    sql = text("SELECT * FROM products WHERE name LIKE :pattern ORDER BY price")
    rows = session.execute(sql, {"pattern": f"%{term}%"}).fetchall()
    return sorted(rows, key=lambda r: getattr(r, sort_column))
'''),
    ("sql-injection",
     '''import mysql.connector


def monthly_total(customer_id, month):
    db = mysql.connector.connect(user="report", database="shop")
    cursor = db.cursor()
    cursor.execute("SELECT SUM(amount) FROM invoices WHERE customer_id = {} AND month = '{}'".format(customer_id, month))
    (total,) = cursor.fetchone()
    db.close()
    return total or 0
''',
     '''import mysql.connector


def monthly_total(customer_id, month):
    db = mysql.connector.connect(user="report", database="shop")
    cursor = db.cursor()
    cursor.execute("SELECT SUM(amount) FROM invoices WHERE customer_id = %s AND month = %s", (customer_id, month))
    (total,) = cursor.fetchone()
    db.close()
    return total or 0
'''),
    ("weak-password-hash",
     '''import hashlib
from dataclasses import dataclass


@dataclass
class Account:
    email: str
    password_digest: str


def register(email: str, password: str) -> Account:
    digest = hashlib.sha1(password.encode("utf-8")).hexdigest()
    return Account(email=email, password_digest=digest)
''',
     '''import hashlib
import os
from dataclasses import dataclass


@dataclass
class Account:
    email: str
    password_digest: str


def register(email: str, password: str) -> Account:
    salt = os.urandom(16)
    digest = salt.hex() + hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, 600_000).hex()
    return Account(email=email, password_digest=digest)
'''),
    ("weak-password-hash",
     '''import hashlib
import hmac


def verify(user_row, attempt):
    expected = user_row["pw"]
    actual = hashlib.md5((user_row["salt"] + attempt).encode()).hexdigest()
    return hmac.compare_digest(expected, actual)
''',
     '''import hashlib
import hmac


def verify(user_row, attempt):
    expected = user_row["pw"]
    actual = hashlib.scrypt(attempt.encode(), salt=user_row["salt"].encode(), n=2**14, r=8, p=1).hex()
    return hmac.compare_digest(expected, actual)
'''),
    ("weak-password-hash",
     '''from Crypto.Hash import MD4


def legacy_password_hash(password):
    h = MD4.new()
    h.update(password.encode("utf-16le"))
    return h.hexdigest()
''',
     '''import bcrypt


def legacy_password_hash(password):
    h = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=12))
    return h.decode()
'''),
    ("hardcoded-secret",
     '''import boto3


def upload_invoice_pdf(local_path, key):
    s3 = boto3.client(
        "s3",
        aws_access_key_id="AKIA4PLQ7ZW2MX3RHT6D",
        aws_secret_access_key="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",
    )
    s3.upload_file(local_path, "invoices-prod", key)
''',
     '''import boto3
import os


def upload_invoice_pdf(local_path, key):
    s3 = boto3.client(
        "s3",
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    )
    s3.upload_file(local_path, "invoices-prod", key)
'''),
    ("hardcoded-secret",
     '''import smtplib
from email.message import EmailMessage

SMTP_HOST = "smtp.mailhost.net"
SMTP_USER = "alerts@shopfront.io"
SMTP_PASSWORD = "Winter2026!alerts"


def send_alert(to, subject, body):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SMTP_USER, to, subject
    msg.set_content(body)
    with smtplib.SMTP_SSL(SMTP_HOST) as s:
        s.login(SMTP_USER, SMTP_PASSWORD)
        s.send_message(msg)
''',
     '''import smtplib
import os
from email.message import EmailMessage

SMTP_HOST = "smtp.mailhost.net"
SMTP_USER = "alerts@shopfront.io"
SMTP_PASSWORD = os.environ["SMTP_PASSWORD"]


def send_alert(to, subject, body):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SMTP_USER, to, subject
    msg.set_content(body)
    with smtplib.SMTP_SSL(SMTP_HOST) as s:
        s.login(SMTP_USER, SMTP_PASSWORD)
        s.send_message(msg)
'''),
    ("hardcoded-secret",
     '''from flask import Flask

app = Flask(__name__)
app.config["SECRET_KEY"] = "8f14e45fceea167a5a36dedd4bea2543"
app.config["SESSION_COOKIE_SECURE"] = True


@app.route("/")
def home():
    return "ok"
''',
     '''import os
from flask import Flask

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ["FLASK_SECRET_KEY"]
app.config["SESSION_COOKIE_SECURE"] = True


@app.route("/")
def home():
    return "ok"
'''),
    ("insecure-random",
     '''import random
import string
from datetime import datetime, timedelta


def issue_reset_link(user_id, store):
    alphabet = string.ascii_letters + string.digits
    token = "".join(random.choice(alphabet) for _ in range(32))
    store[token] = (user_id, datetime.utcnow() + timedelta(hours=1))
    return f"https://example.com/reset?token={token}"
''',
     '''import secrets
import string
from datetime import datetime, timedelta


def issue_reset_link(user_id, store):
    alphabet = string.ascii_letters + string.digits
    token = "".join(secrets.choice(alphabet) for _ in range(32))
    store[token] = (user_id, datetime.utcnow() + timedelta(hours=1))
    return f"https://example.com/reset?token={token}"
'''),
    ("insecure-random",
     '''import random


class OneTimeCode:
    DIGITS = 6

    def generate(self) -> str:
        n = random.randint(0, 10 ** self.DIGITS - 1)
        return str(n).zfill(self.DIGITS)
''',
     '''import secrets


class OneTimeCode:
    DIGITS = 6

    def generate(self) -> str:
        n = secrets.randbelow(10 ** self.DIGITS)
        return str(n).zfill(self.DIGITS)
'''),
    ("insecure-random",
     '''import random
import time


def new_session_id():
    random.seed(time.time())
    return "%032x" % random.getrandbits(128)
''',
     '''import secrets
import time


def new_session_id():
    _ = time.time()
    return secrets.token_hex(16)
'''),
    ("insecure-tempfile",
     '''import tempfile
import json


def spool_results(results):
    path = tempfile.mktemp(suffix=".json", prefix="results-")
    with open(path, "w") as out:
        json.dump(results, out)
    return path
''',
     '''import tempfile
import json


def spool_results(results):
    fd, path = tempfile.mkstemp(suffix=".json", prefix="results-")
    with open(fd, "w") as out:
        json.dump(results, out)
    return path
'''),
    ("insecure-tempfile",
     '''import os
import tempfile


def render_pdf(html, renderer):
    scratch = tempfile.mktemp(dir="/tmp")
    os.makedirs(scratch)
    page = os.path.join(scratch, "page.html")
    with open(page, "w") as fh:
        fh.write(html)
    return renderer(page)
''',
     '''import os
import tempfile


def render_pdf(html, renderer):
    scratch = tempfile.mkdtemp(dir="/tmp")
    page = os.path.join(scratch, "page.html")
    with open(page, "w") as fh:
        fh.write(html)
    return renderer(page)
'''),
    ("tls-verify-off",
     '''import httpx


async def fetch_rates(base: str = "EUR") -> dict:
    async with httpx.AsyncClient(verify=False, timeout=5.0) as client:
        r = await client.get("https://rates.internal/latest", params={"base": base})
        r.raise_for_status()
        return r.json()
''',
     '''import httpx


async def fetch_rates(base: str = "EUR") -> dict:
    async with httpx.AsyncClient(verify=True, timeout=5.0) as client:
        r = await client.get("https://rates.internal/latest", params={"base": base})
        r.raise_for_status()
        return r.json()
'''),
    ("tls-verify-off",
     '''import ssl
import urllib.request


def read_status_page(url):
    ctx = ssl._create_unverified_context()
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        return resp.read().decode("utf-8")
''',
     '''import ssl
import urllib.request


def read_status_page(url):
    ctx = ssl.create_default_context()
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        return resp.read().decode("utf-8")
'''),
    ("tls-verify-off",
     '''import requests


class MetricsClient:
    def __init__(self, base_url, token):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + token
        self.session.verify = False

    def push(self, name, value):
        return self.session.post(self.base_url + "/push", json={"name": name, "value": value})
''',
     '''import requests


class MetricsClient:
    def __init__(self, base_url, token):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Bearer " + token
        self.session.verify = "/etc/ssl/certs/ca-certificates.crt"

    def push(self, name, value):
        return self.session.post(self.base_url + "/push", json={"name": name, "value": value})
'''),
    ("xml-external-entities",
     '''from lxml import etree


def parse_invoice(xml_bytes):
    parser = etree.XMLParser(resolve_entities=True, no_network=False)
    root = etree.fromstring(xml_bytes, parser)
    return {
        "number": root.findtext("number"),
        "total": float(root.findtext("total")),
    }
''',
     '''from lxml import etree


def parse_invoice(xml_bytes):
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(xml_bytes, parser)
    return {
        "number": root.findtext("number"),
        "total": float(root.findtext("total")),
    }
'''),
    ("xml-external-entities",
     '''import xml.sax


class TitleHandler(xml.sax.ContentHandler):
    def __init__(self):
        super().__init__()
        self.titles = []


def titles_from(stream):
    handler = TitleHandler()
    parser = xml.sax.make_parser()
    parser.setFeature(xml.sax.handler.feature_external_ges, True)
    parser.setContentHandler(handler)
    parser.parse(stream)
    return handler.titles
''',
     '''import xml.sax


class TitleHandler(xml.sax.ContentHandler):
    def __init__(self):
        super().__init__()
        self.titles = []


def titles_from(stream):
    handler = TitleHandler()
    parser = xml.sax.make_parser()
    parser.setFeature(xml.sax.handler.feature_external_ges, False)
    parser.setContentHandler(handler)
    parser.parse(stream)
    return handler.titles
'''),
    ("path-traversal",
     '''import os
from flask import Flask, request, abort

app = Flask(__name__)
AVATARS = "/srv/app/avatars"


@app.get("/avatar")
def avatar():
    name = request.args.get("file", "default.png")
    path = os.path.join(AVATARS, name)
    if not os.path.exists(path):
        abort(404)
    with open(path, "rb") as fh:
        return fh.read()
''',
     '''import os
from flask import Flask, request, abort
from werkzeug.utils import secure_filename

app = Flask(__name__)
AVATARS = "/srv/app/avatars"


@app.get("/avatar")
def avatar():
    name = request.args.get("file", "default.png")
    path = os.path.join(AVATARS, secure_filename(name))
    if not os.path.exists(path):
        abort(404)
    with open(path, "rb") as fh:
        return fh.read()
'''),
    ("path-traversal",
     '''import tarfile


def install_theme(archive_path, themes_dir):
    with tarfile.open(archive_path) as tar:
        tar.extractall(themes_dir)
    return sorted(m.name for m in tarfile.open(archive_path).getmembers())
''',
     '''import tarfile


def install_theme(archive_path, themes_dir):
    with tarfile.open(archive_path) as tar:
        tar.extractall(themes_dir, filter="data")
    return sorted(m.name for m in tarfile.open(archive_path).getmembers())
'''),
    ("path-traversal",
     '''from pathlib import Path

BASE = Path("/var/www/reports")


def read_report(relative_name: str) -> str:
    target = BASE / relative_name
    return target.read_text()
''',
     '''from pathlib import Path

BASE = Path("/var/www/reports")


def read_report(relative_name: str) -> str:
    target = (BASE / relative_name).resolve()
    if not target.is_relative_to(BASE):
        raise PermissionError(relative_name)
    return target.read_text()
'''),
    ("debug-bind-all",
     '''from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/api/health")
def health():
    return jsonify(status="up")


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080, debug=True)
''',
     '''from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/api/health")
def health():
    return jsonify(status="up")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8080, debug=False)
'''),
    ("debug-bind-all",
     '''import socket


def start_admin_console(handler):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("0.0.0.0", 9000))
    srv.listen(5)
    while True:
        conn, _ = srv.accept()
        handler(conn)
''',
     '''import socket


def start_admin_console(handler):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 9000))
    srv.listen(5)
    while True:
        conn, _ = srv.accept()
        handler(conn)
'''),
    ("weak-cipher",
     '''from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def seal(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.TripleDES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()
''',
     '''import os
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def seal(key: bytes, block: bytes) -> bytes:
    nonce = os.urandom(12)
    enc = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
    return nonce + enc.update(block) + enc.finalize() + enc.tag
'''),
    ("weak-cipher",
     '''from Crypto.Cipher import ARC4


class StreamObfuscator:
    def __init__(self, secret):
        self.secret = secret

    def wrap(self, data):
        return ARC4.new(self.secret).encrypt(data)
''',
     '''from Crypto.Cipher import ChaCha20_Poly1305


class StreamObfuscator:
    def __init__(self, secret):
        self.secret = secret

    def wrap(self, data):
        cipher = ChaCha20_Poly1305.new(key=self.secret)
        return cipher.nonce + cipher.encrypt(data) + cipher.digest()
'''),
    ("jwt-no-verify",
     '''import jwt
from fastapi import Header, HTTPException


def current_user(authorization: str = Header(...)):
    token = authorization.removeprefix("Bearer ")
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise HTTPException(status_code=401)
    return claims["sub"]
''',
     '''import jwt
import os
from fastapi import Header, HTTPException


def current_user(authorization: str = Header(...)):
    token = authorization.removeprefix("Bearer ")
    try:
        claims = jwt.decode(token, os.environ["JWT_KEY"], algorithms=["HS256"])
    except jwt.PyJWTError:
        raise HTTPException(status_code=401)
    return claims["sub"]
'''),
    ("permissive-permissions",
     '''import os


def write_credentials(path, content):
    with open(path, "w") as fh:
        fh.write(content)
    os.chmod(path, 0o777)
''',
     '''import os


def write_credentials(path, content):
    with open(path, "w") as fh:
        fh.write(content)
    os.chmod(path, 0o600)
'''),
    ("ssh-host-key",
     '''import paramiko


def deploy(host, user, key_file, commands):
    ssh = paramiko.SSHClient()
    ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    ssh.connect(host, username=user, key_filename=key_file)
    for c in commands:
        ssh.exec_command(c)
    ssh.close()
''',
     '''import paramiko


def deploy(host, user, key_file, commands):
    ssh = paramiko.SSHClient()
    ssh.load_system_host_keys()
    ssh.connect(host, username=user, key_filename=key_file)
    for c in commands:
        ssh.exec_command(c)
    ssh.close()
'''),
]
