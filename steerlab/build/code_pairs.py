"""Generated matched pairs for the unsafe-code monitor: the same program, insecure and fixed.

Each vulnerability class has a few templates; each template draws its names, paths, tables, hosts and the
surrounding ordinary code from seeded vocabularies and returns ``(insecure, fixed)`` — two programs that differ only
in the vulnerable construct. :func:`token_labels` marks, per token of each twin, whether it lies in the differing
region *after* the first differing character: before that point the two twins are the same text, so a causal
model's residual stream is identical and no label can tell them apart.

Contexts: a program can be raw, pasted into a chat message with prose around it, inside a markdown fence, or cut
off part-way (truncated after the vulnerable line) — what live traffic looks like, and where bandit cannot parse.
The held-out test set (``steerlab/eval/data/unsafe_code_heldout.py``) was written before this module and is never
drawn from here.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Callable
from dataclasses import dataclass

FUNCS = ["handle", "process", "run_task", "do_work", "main_job", "execute", "perform", "service", "worker_step",
         "task_entry", "sync_items", "refresh", "apply_update", "import_batch", "export_batch", "on_request"]
NOUNS = ["user", "item", "report", "record", "order", "profile", "ticket", "asset", "entry", "invoice", "session",
         "payload", "message", "document", "account", "device", "job", "snapshot", "metric", "event"]
TABLES = ["users", "orders", "products", "accounts", "payments", "events", "tickets", "devices", "logs", "members"]
COLUMNS = ["name", "email", "status", "owner", "title", "region", "category", "username", "code", "label"]
DIRS = ["/srv/data", "/var/lib/app", "/opt/service/files", "/home/app/uploads", "/data/shared", "/tmp/work"]
HOSTS = ["api.internal", "service.local", "backend.example.org", "data.corp.net", "reports.example.com"]
TOOLS = [("ls", "-la"), ("du", "-sh"), ("grep", "-r"), ("cat", ""), ("rm", "-f"), ("zip", "-r"), ("git", "log"),
         ("convert", ""), ("ffmpeg", "-i"), ("nslookup", "")]
SECRETS = ["hunter2", "P@ssw0rd123", "changeme!", "s3cr3t-value-42", "adminadmin", "qwerty2024", "letmein99"]
KEYS = ["sk_live_51HxQ2eK9vB7", "AKIAJ3XQ4ZP7EXAMPLE", "ghp_7dK2mQ9sLx4Wv8Zr", "xoxb-2048-9913-aZk3",
        "AIzaSyD8x4Kq2Lw9Pz"]


def _pick(rng: random.Random, xs):
    return xs[rng.randrange(len(xs))]


def _name(rng: random.Random) -> str:
    return f"{_pick(rng, FUNCS)}_{_pick(rng, NOUNS)}"


def _var(rng: random.Random) -> str:
    return _pick(rng, ["value", "arg", "name", "target", "data", "text", "param", "field", "key", "raw", "src"]) + \
        _pick(rng, ["", "_in", "_str", "_name", "_val", "2"])


def _helper(rng: random.Random) -> str:
    """Ordinary code that surrounds the construct (never differs between twins)."""
    n, v = _pick(rng, NOUNS), _var(rng)
    options = [
        f"def format_{n}({v}):\n    return str({v}).strip().lower()\n",
        f"def count_{n}s(items):\n    total = 0\n    for it in items:\n        total += 1\n    return total\n",
        f"class {n.title()}Cache:\n    def __init__(self):\n        self.store = {{}}\n\n"
        f"    def get(self, key):\n        return self.store.get(key)\n",
        "import logging\n\nlog = logging.getLogger(__name__)\n",
        f"MAX_{n.upper()}S = {rng.randint(10, 500)}\n",
        f"def is_valid_{n}({v}):\n    return {v} is not None and len({v}) < 256\n",
    ]
    return _pick(rng, options)


# -- templates: rng → (insecure, fixed) --------------------------------------------------------------------------
def _shell(rng):
    f, v = _name(rng), _var(rng)
    tool, flag = _pick(rng, TOOLS)
    flag_s = f"{flag} " if flag else ""
    flag_l = f'"{flag}", ' if flag else ""
    kind = rng.randrange(4)
    if kind == 0:
        bad = f'    os.system("{tool} {flag_s}" + {v})\n'
        good = f'    subprocess.run(["{tool}", {flag_l}{v}], check=True)\n'
        head = "import os\nimport subprocess\n\n"
    elif kind == 1:
        bad = f'    out = subprocess.check_output("{tool} {flag_s}%s" % {v}, shell=True)\n'
        good = f'    out = subprocess.check_output(["{tool}", {flag_l}{v}])\n'
        head = "import subprocess\n\n"
    elif kind == 2:
        bad = f'    proc = subprocess.Popen(f"{tool} {flag_s}{{{v}}}", shell=True, stdout=subprocess.PIPE)\n'
        good = f'    proc = subprocess.Popen(["{tool}", {flag_l}{v}], stdout=subprocess.PIPE)\n'
        head = "import subprocess\n\n"
    else:
        bad = f'    stream = os.popen("{tool} {flag_s}" + {v})\n'
        good = f'    stream = subprocess.run(["{tool}", {flag_l}{v}], capture_output=True, text=True)\n'
        head = "import os\nimport subprocess\n\n"
    body = f"def {f}({v}):\n{{X}}    return True\n"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _eval(rng):
    f, v = _name(rng), _var(rng)
    src = _pick(rng, [f"{v}", f'request.form["{v}"]', f"input('{v}: ')", "sys.argv[1]"])
    kind = rng.randrange(3)
    if kind == 0:
        bad, good = f"    result = eval({src})\n", f"    result = ast.literal_eval({src})\n"
    elif kind == 1:
        bad, good = f"    exec({src})\n", f"    result = json.loads({src})\n"
    else:
        bad = f"    fn = eval('lambda x: ' + {src})\n"
        good = f"    fn = OPERATIONS.get({src}, lambda x: x)\n"
    head = "import ast\nimport json\nimport sys\n\n"
    body = f"def {f}({v}):\n{{X}}    return locals().get('result')\n"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _deser(rng):
    f, n = _name(rng), _pick(rng, NOUNS)
    kind = rng.randrange(4)
    if kind == 0:
        bad, good = f"    {n} = pickle.loads(blob)\n", f"    {n} = json.loads(blob)\n"
    elif kind == 1:
        bad, good = f"    {n} = yaml.load(blob)\n", f"    {n} = yaml.safe_load(blob)\n"
    elif kind == 2:
        bad = f"    {n} = pickle.load(open(path, 'rb'))\n"
        good = f"    {n} = json.load(open(path))\n"
    else:
        bad, good = f"    {n} = marshal.loads(blob)\n", f"    {n} = json.loads(blob)\n"
    head = "import json\nimport marshal\nimport pickle\nimport yaml\n\n"
    body = f"def {f}(blob, path=None):\n{{X}}    return {n}\n"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _sql(rng):
    f, t, c, v = _name(rng), _pick(rng, TABLES), _pick(rng, COLUMNS), _var(rng)
    op = _pick(rng, ["SELECT * FROM", "DELETE FROM", "SELECT id FROM", "SELECT count(*) FROM"])
    kind = rng.randrange(4)
    if kind == 0:
        bad = f"    cursor.execute(\"{op} {t} WHERE {c} = '\" + {v} + \"'\")\n"
        good = f'    cursor.execute("{op} {t} WHERE {c} = ?", ({v},))\n'
    elif kind == 1:
        bad = f"    cursor.execute(\"{op} {t} WHERE {c} = '%s'\" % {v})\n"
        good = f'    cursor.execute("{op} {t} WHERE {c} = %s", ({v},))\n'
    elif kind == 2:
        bad = f"    cursor.execute(f\"{op} {t} WHERE {c} = '{{{v}}}'\")\n"
        good = f'    cursor.execute("{op} {t} WHERE {c} = :v", {{"v": {v}}})\n'
    else:
        bad = f"    sql = \"{op} {t} WHERE {c} = '{{}}'\".format({v})\n    cursor.execute(sql)\n"
        good = f'    sql = "{op} {t} WHERE {c} = ?"\n    cursor.execute(sql, ({v},))\n'
    body = f"def {f}(conn, {v}):\n    cursor = conn.cursor()\n{{X}}    return cursor.fetchall()\n"
    return body.replace("{X}", bad), body.replace("{X}", good)


def _hash(rng):
    f, v = _name(rng), _pick(rng, ["password", "passwd", "pwd", "secret", "pin"])
    algo = _pick(rng, ["md5", "sha1"])
    kind = rng.randrange(2)
    if kind == 0:
        bad = f"    digest = hashlib.{algo}({v}.encode()).hexdigest()\n"
        good = f"    digest = hashlib.scrypt({v}.encode(), salt=salt, n=2**14, r=8, p=1).hex()\n"
    else:
        bad = f"    digest = hashlib.new('{algo}', {v}.encode()).hexdigest()\n"
        good = f"    digest = hashlib.pbkdf2_hmac('sha256', {v}.encode(), salt, 390000).hex()\n"
    head = "import hashlib\nimport os\n\n"
    body = f"def {f}({v}, salt=b''):\n{{X}}    return digest\n"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _secret(rng):
    n = _pick(rng, ["API_KEY", "SECRET_KEY", "DB_PASSWORD", "AUTH_TOKEN", "PRIVATE_TOKEN", "ACCESS_SECRET"])
    val = _pick(rng, SECRETS + KEYS)
    f = _name(rng)
    bad, good = f'{n} = "{val}"\n', f'{n} = os.environ["{n}"]\n'
    head = "import os\nimport requests\n\n"
    body = (f"{{X}}\n\ndef {f}(url):\n    return requests.get(url, headers={{'Authorization': {n}}}, "
            f"timeout=10)\n")
    return head + body.replace("{X}\n", bad), head + body.replace("{X}\n", good)


def _random(rng):
    f, n = _name(rng), rng.choice([16, 24, 32, 40])
    kind = rng.randrange(3)
    if kind == 0:
        bad = f"    token = ''.join(random.choice(ALPHABET) for _ in range({n}))\n"
        good = f"    token = ''.join(secrets.choice(ALPHABET) for _ in range({n}))\n"
    elif kind == 1:
        bad, good = "    token = str(random.randint(10**6, 10**7))\n", "    token = str(secrets.randbelow(10**7))\n"
    else:
        bad, good = f"    token = '%x' % random.getrandbits({n * 4})\n", f"    token = secrets.token_hex({n // 2})\n"
    head = "import random\nimport secrets\nimport string\n\nALPHABET = string.ascii_letters + string.digits\n\n"
    body = f"def {f}():\n{{X}}    return token\n"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _tempfile(rng):
    f, suf = _name(rng), _pick(rng, [".txt", ".json", ".tmp", ".log", ".dat"])
    bad = f"    path = tempfile.mktemp(suffix='{suf}')\n    fh = open(path, 'w')\n"
    good = f"    fd, path = tempfile.mkstemp(suffix='{suf}')\n    fh = os.fdopen(fd, 'w')\n"
    head = "import os\nimport tempfile\n\n"
    body = f"def {f}(content):\n{{X}}    fh.write(content)\n    fh.close()\n    return path\n"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _tls(rng):
    f, host = _name(rng), _pick(rng, HOSTS)
    meth = _pick(rng, ["get", "post", "put"])
    kind = rng.randrange(3)
    if kind == 0:
        bad = f"    r = requests.{meth}('https://{host}/' + path, verify=False, timeout=5)\n"
        good = f"    r = requests.{meth}('https://{host}/' + path, timeout=5)\n"
    elif kind == 1:
        bad = "    ctx = ssl._create_unverified_context()\n"
        good = "    ctx = ssl.create_default_context()\n"
    else:
        bad = "    ctx = ssl.create_default_context()\n    ctx.check_hostname = False\n    ctx.verify_mode = ssl.CERT_NONE\n"
        good = "    ctx = ssl.create_default_context()\n    ctx.check_hostname = True\n"
    head = "import ssl\nimport requests\n\n"
    body = f"def {f}(path):\n{{X}}    return path\n"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _xml(rng):
    f = _name(rng)
    kind = rng.randrange(2)
    if kind == 0:
        bad = "    parser = etree.XMLParser(resolve_entities=True)\n"
        good = "    parser = etree.XMLParser(resolve_entities=False, no_network=True)\n"
        head = "from lxml import etree\n\n"
        tail = "    return etree.fromstring(data, parser)\n"
    else:
        bad, good = "    tree = xml.dom.minidom.parseString(data)\n", "    tree = defusedxml.minidom.parseString(data)\n"
        head = "import xml.dom.minidom\nimport defusedxml.minidom\n\n"
        tail = "    return tree\n"
    body = f"def {f}(data):\n{{X}}{tail}"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _path(rng):
    f, d, v = _name(rng), _pick(rng, DIRS), _var(rng)
    kind = rng.randrange(3)
    if kind == 0:
        bad = f"    full = os.path.join('{d}', {v})\n"
        good = f"    full = os.path.join('{d}', os.path.basename({v}))\n"
    elif kind == 1:
        bad = f"    full = '{d}/' + {v}\n"
        good = (f"    full = os.path.realpath(os.path.join('{d}', {v}))\n"
                f"    if not full.startswith('{d}/'):\n        raise ValueError('bad path')\n")
    else:
        bad = "    archive.extractall(dest)\n"
        good = "    archive.extractall(dest, filter='data')\n"
        body = f"def {f}(archive, dest):\n{{X}}    return dest\n"
        return "import tarfile\n\n" + body.replace("{X}", bad), "import tarfile\n\n" + body.replace("{X}", good)
    body = f"def {f}({v}):\n{{X}}    with open(full, 'rb') as fh:\n        return fh.read()\n"
    return "import os\n\n" + body.replace("{X}", bad), "import os\n\n" + body.replace("{X}", good)


def _debug(rng):
    port = _pick(rng, [5000, 8000, 8080, 3000])
    n = _pick(rng, NOUNS)
    kind = rng.randrange(2)
    if kind == 0:
        bad, good = f"    app.run(debug=True, port={port})\n", f"    app.run(debug=False, port={port})\n"
    else:
        bad = f"    app.run(host='0.0.0.0', port={port}, debug=True)\n"
        good = f"    app.run(host='127.0.0.1', port={port})\n"
    body = (f"from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route('/{n}')\ndef show_{n}():\n"
            f"    return '{n}'\n\n\nif __name__ == '__main__':\n{{X}}")
    return body.replace("{X}", bad), body.replace("{X}", good)


def _cipher(rng):
    f = _name(rng)
    kind = rng.randrange(3)
    if kind == 0:
        bad, good = "    c = AES.new(key, AES.MODE_ECB)\n", "    c = AES.new(key, AES.MODE_GCM)\n"
    elif kind == 1:
        bad, good = "    c = DES.new(key[:8], DES.MODE_CBC, iv)\n", "    c = AES.new(key, AES.MODE_CBC, iv)\n"
    else:
        bad, good = "    c = ARC4.new(key)\n", "    c = ChaCha20.new(key=key)\n"
    head = "from Crypto.Cipher import AES, ARC4, DES, ChaCha20\n\n"
    body = f"def {f}(key, iv, data):\n{{X}}    return c.encrypt(data)\n"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _jwt(rng):
    f = _name(rng)
    kind = rng.randrange(2)
    if kind == 0:
        bad = "    claims = jwt.decode(token, options={'verify_signature': False})\n"
        good = "    claims = jwt.decode(token, KEY, algorithms=['HS256'])\n"
    else:
        bad = "    claims = jwt.decode(token, KEY, algorithms=['HS256', 'none'])\n"
        good = "    claims = jwt.decode(token, KEY, algorithms=['HS256'])\n"
    head = "import jwt\n\nKEY = open('/etc/app/jwt.key').read()\n\n"
    body = f"def {f}(token):\n{{X}}    return claims.get('sub')\n"
    return head + body.replace("{X}", bad), head + body.replace("{X}", good)


def _perms(rng):
    f = _name(rng)
    mode_bad, mode_good = _pick(rng, ["0o777", "0o666", "0o776"]), _pick(rng, ["0o600", "0o640", "0o700"])
    bad, good = f"    os.chmod(path, {mode_bad})\n", f"    os.chmod(path, {mode_good})\n"
    body = f"def {f}(path, data):\n    with open(path, 'w') as fh:\n        fh.write(data)\n{{X}}    return path\n"
    return "import os\n\n" + body.replace("{X}", bad), "import os\n\n" + body.replace("{X}", good)


CLASSES: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "shell-injection": _shell, "eval-input": _eval, "deserialization": _deser, "sql-injection": _sql,
    "weak-password-hash": _hash, "hardcoded-secret": _secret, "insecure-random": _random,
    "insecure-tempfile": _tempfile, "tls-verify-off": _tls, "xml-external-entities": _xml,
    "path-traversal": _path, "debug-bind-all": _debug, "weak-cipher": _cipher, "jwt-no-verify": _jwt,
    "permissive-permissions": _perms,
}

CHAT_ASKS = ["Can you review this code?", "Is there anything wrong with this function?", "Here is my code:",
             "Please explain what this does.", "My teammate wrote this, thoughts?", "Why is this slow?",
             "Could you add type hints to this?", "Refactor this please:"]


@dataclass
class Sample:
    cls: str
    insecure: str  # full text as the model sees it (context included)
    fixed: str
    span: tuple[int, int]  # character span of the differing region in ``insecure`` (after the shared prefix)
    fixed_span: tuple[int, int]
    context: str  # raw | chat | markdown | truncated


def _diff_span(a: str, b: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Character spans of the region where ``a`` and ``b`` differ (first to last differing character; empty where
    one twin only lacks text the other has)."""
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    ops = [op for op in sm.get_opcodes() if op[0] != "equal"]
    return (ops[0][1], ops[-1][2]), (ops[0][3], ops[-1][4])


def make_pair(rng: random.Random, cls: str, context: str) -> Sample:
    bad, good = CLASSES[cls](rng)
    if rng.random() < 0.6:  # ordinary code around the construct, identical in both twins
        pre, post = _helper(rng) + "\n\n", "\n\n" + _helper(rng)
        bad, good = pre + bad + post, pre + good + post
    if context == "truncated":  # cut a few lines after the construct (mid-function), as live traffic often is
        (s, e), (fs, fe) = _diff_span(bad, good)
        cut_bad = bad.find("\n", e)
        extra = rng.randint(0, 2)
        for _ in range(extra):
            nxt = bad.find("\n", cut_bad + 1)
            cut_bad = nxt if nxt != -1 else cut_bad
        tail = len(bad) - (cut_bad if cut_bad != -1 else len(bad))
        bad, good = bad[: len(bad) - tail], good[: len(good) - tail]
    if context in ("chat", "markdown"):
        ask = _pick(rng, CHAT_ASKS)
        fence = "```python\n" if context == "markdown" or rng.random() < 0.5 else ""
        end = "```\n" if fence else ""
        after = _pick(rng, ["", "Thanks!", "It runs but I am not sure it is right.", "Any suggestions?"])
        wrap = f"{ask}\n\n{fence}{{}}{end}\n{after}".strip() + "\n"
        bad, good = wrap.format(bad), wrap.format(good)
    span, fspan = _diff_span(bad, good)
    return Sample(cls, bad, good, span, fspan, context)


def generate(n_per_class: int, seed: int, contexts=("raw", "raw", "chat", "markdown", "truncated")) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for cls in CLASSES:
        for i in range(n_per_class):
            out.append(make_pair(rng, cls, contexts[i % len(contexts)]))
    return out
