"""Insecure constructs and their fixes, and the program shapes they are written into (the pair generator's data).

Each vulnerability class lists constructs ``(imports, insecure statement, fixed statement)`` drawn from bandit's
checks and the idioms Python code uses for them; :func:`render` fills a construct's placeholders from seeded
vocabularies and writes it into a drawn shape (function, method, async function, a web app's entry point, a
module-level setting), so the twins differ only in the construct. :mod:`steerlab.build.code_pairs` adds the
contexts (raw, chat, markdown, truncated) and the token spans.
"""

from __future__ import annotations

import random
import re
import textwrap

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


# -- constructs: (imports, insecure statement, fixed statement), placeholders filled per program --------------------
# A construct is one or a few statements at indentation 0; :func:`render` puts it into a program shape (function,
# method, async function, script). Names a construct uses but does not assign (``conn``, ``path``, ``key``…) become
# parameters. ``{{``/``}}`` are literal braces. Imports are the union of both twins' imports, written in both, so the
# twins differ only in the construct.
Construct = tuple[str, str, str]
CONSTRUCTS: dict[str, list[Construct]] = {
    "shell-injection": [
        ("os subprocess", 'os.system("{tool} " + {v})', 'subprocess.run(["{tool}", {v}], check=True)'),
        ("os shlex", 'os.system("{tool} " + {v})', 'os.system("{tool} " + shlex.quote({v}))'),
        ("os subprocess", 'os.system(f"{tool} {{{v}}}")', 'subprocess.run(["{tool}", {v}])'),
        ("subprocess", 'out = subprocess.check_output("{tool} %s" % {v}, shell=True)',
         'out = subprocess.check_output(["{tool}", {v}])'),
        ("subprocess", 'out = subprocess.run(f"{tool} {{{v}}}", shell=True, capture_output=True)',
         'out = subprocess.run(["{tool}", {v}], capture_output=True)'),
        ("subprocess", 'proc = subprocess.Popen("{tool} " + {v}, shell=True, stdout=subprocess.PIPE)',
         'proc = subprocess.Popen(["{tool}", {v}], stdout=subprocess.PIPE)'),
        ("os subprocess", 'out = os.popen("{tool} " + {v}).read()',
         'out = subprocess.run(["{tool}", {v}], capture_output=True, text=True).stdout'),
        ("subprocess", 'out = subprocess.getoutput("{tool} " + {v})',
         'out = subprocess.run(["{tool}", {v}], capture_output=True, text=True).stdout'),
        ("subprocess", 'code = subprocess.call("{tool} {{}}".format({v}), shell=True)',
         'code = subprocess.call(["{tool}", {v}])'),
        ("asyncio", 'proc = await asyncio.create_subprocess_shell("{tool} " + {v})',
         'proc = await asyncio.create_subprocess_exec("{tool}", {v})'),
    ],
    "eval-input": [
        ("ast", "out = eval({v})", "out = ast.literal_eval({v})"),
        ("json", "exec({v})", "out = json.loads({v})"),
        ("", 'out = eval("lambda x: " + {v})', "out = OPERATIONS.get({v}, abs)"),
        ("ast", 'out = eval(compile({v}, "<input>", "eval"))', "out = ast.literal_eval({v})"),
        ("", 'out = eval({v}, {{"__builtins__": {{}}}})', "out = float({v})"),
        ("json", "exec(open({v}).read())", "out = json.load(open({v}))"),
        ("ast", 'out = eval(input("{n}: "))', 'out = ast.literal_eval(input("{n}: "))'),
        ("json", "out = eval(request.args.get('{v}'))", "out = json.loads(request.args.get('{v}'))"),
    ],
    "deserialization": [
        ("json pickle", "out = pickle.loads({v})", "out = json.loads({v})"),
        ("yaml", "out = yaml.load({v})", "out = yaml.safe_load({v})"),
        ("yaml", "out = yaml.load({v}, Loader=yaml.Loader)", "out = yaml.load({v}, Loader=yaml.SafeLoader)"),
        ("yaml", "out = yaml.unsafe_load({v})", "out = yaml.safe_load({v})"),
        ("json pickle", "with open(path, 'rb') as fh:\n    out = pickle.load(fh)",
         "with open(path) as fh:\n    out = json.load(fh)"),
        ("json marshal", "out = marshal.loads({v})", "out = json.loads({v})"),
        ("json dill", "out = dill.loads({v})", "out = json.loads({v})"),
        ("torch", "out = torch.load(path)", "out = torch.load(path, weights_only=True)"),
        ("json jsonpickle", "out = jsonpickle.decode({v})", "out = json.loads({v})"),
        ("base64 json pickle", "out = pickle.loads(base64.b64decode({v}))", "out = json.loads(base64.b64decode({v}))"),
        ("json shelve", "with shelve.open(path) as db:\n    out = db[{v}]",
         "with open(path) as fh:\n    out = json.load(fh)[{v}]"),
    ],
    "sql-injection": [
        ("", "cursor.execute(\"{op} {t} WHERE {c} = '\" + {v} + \"'\")",
         'cursor.execute("{op} {t} WHERE {c} = ?", ({v},))'),
        ("", "cursor.execute(\"{op} {t} WHERE {c} = '%s'\" % {v})", 'cursor.execute("{op} {t} WHERE {c} = %s", ({v},))'),
        ("", "cursor.execute(f\"{op} {t} WHERE {c} = '{{{v}}}'\")",
         'cursor.execute("{op} {t} WHERE {c} = :v", {{"v": {v}}})'),
        ("", "sql = \"{op} {t} WHERE {c} = '{{}}'\".format({v})\ncursor.execute(sql)",
         'sql = "{op} {t} WHERE {c} = ?"\ncursor.execute(sql, ({v},))'),
        ("", "rows = conn.execute(\"{op} {t} WHERE {c} = '\" + {v} + \"'\").fetchall()",
         'rows = conn.execute("{op} {t} WHERE {c} = ?", ({v},)).fetchall()'),
        ("sqlalchemy", "rows = conn.execute(sqlalchemy.text(f\"{op} {t} WHERE {c} = '{{{v}}}'\"))",
         'rows = conn.execute(sqlalchemy.text("{op} {t} WHERE {c} = :v"), {{"v": {v}}})'),
        ("", "rows = {T}.objects.raw(\"{op} {t} WHERE {c} = '%s'\" % {v})",
         'rows = {T}.objects.raw("{op} {t} WHERE {c} = %s", [{v}])'),
        ("pandas", "out = pandas.read_sql(f\"{op} {t} WHERE {c} = '{{{v}}}'\", conn)",
         'out = pandas.read_sql("{op} {t} WHERE {c} = ?", conn, params=({v},))'),
        ("", "query = \"{op} {t} WHERE id = \" + str({v})\ncursor.execute(query)",
         'query = "{op} {t} WHERE id = %s"\ncursor.execute(query, ({v},))'),
    ],
    "weak-password-hash": [
        ("hashlib", "digest = hashlib.{algo}({pw}.encode()).hexdigest()",
         "digest = hashlib.scrypt({pw}.encode(), salt=salt, n=2**14, r=8, p=1).hex()"),
        ("hashlib", "digest = hashlib.new('{algo}', {pw}.encode()).hexdigest()",
         "digest = hashlib.pbkdf2_hmac('sha256', {pw}.encode(), salt, 600000).hex()"),
        ("hashlib", "digest = hashlib.{algo}(salt + {pw}.encode()).hexdigest()",
         "digest = hashlib.pbkdf2_hmac('sha256', {pw}.encode(), salt, 390000).hex()"),
        ("bcrypt Crypto.Hash.MD5", "digest = Crypto.Hash.MD5.new({pw}.encode()).hexdigest()",
         "digest = bcrypt.hashpw({pw}.encode(), bcrypt.gensalt()).decode()"),
        ("argon2 hashlib", "digest = hashlib.{algo}({pw}.encode('utf-8')).hexdigest()",
         "digest = argon2.PasswordHasher().hash({pw})"),
    ],
    "hardcoded-secret": [
        ("os", '{K} = "{secret}"', '{K} = os.environ["{K}"]'),
        ("os", '{K} = "{secret}"', '{K} = os.getenv("{K}")'),
        ("os", 'CONFIG = {{"host": "{host}", "password": "{secret}"}}',
         'CONFIG = {{"host": "{host}", "password": os.environ["DB_PASSWORD"]}}'),
        ("os", 'app.config["SECRET_KEY"] = "{secret}"', 'app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]'),
        ("os", 'HEADERS = {{"Authorization": "Bearer {secret}"}}',
         'HEADERS = {{"Authorization": "Bearer " + os.environ["API_TOKEN"]}}'),
        ("os psycopg2", 'conn = psycopg2.connect(host="{host}", user="app", password="{secret}")',
         'conn = psycopg2.connect(host="{host}", user="app", password=os.environ["PGPASSWORD"])'),
    ],
    "insecure-random": [
        ("random secrets string", "token = ''.join(random.choice(ALPHABET) for _ in range({N}))",
         "token = ''.join(secrets.choice(ALPHABET) for _ in range({N}))"),
        ("random secrets", "token = str(random.randint(100000, 999999))", "token = str(secrets.randbelow(900000) + 100000)"),
        ("random secrets", "token = '%x' % random.getrandbits({bits})", "token = secrets.token_hex({N})"),
        ("random secrets", "token = str(random.random())[2:]", "token = secrets.token_urlsafe({N})"),
        ("random secrets string", "token = ''.join(random.sample(ALPHABET, {N}))",
         "token = ''.join(secrets.choice(ALPHABET) for _ in range({N}))"),
        ("random secrets", "nonce = random.randbytes({N})", "nonce = secrets.token_bytes({N})"),
    ],
    "insecure-tempfile": [
        ("os tempfile", "path = tempfile.mktemp(suffix='{suf}')\nfh = open(path, 'w')",
         "fd, path = tempfile.mkstemp(suffix='{suf}')\nfh = os.fdopen(fd, 'w')"),
        ("os tempfile", "workdir = tempfile.mktemp()\nos.mkdir(workdir)", "workdir = tempfile.mkdtemp()"),
        ("tempfile", "name = tempfile.mktemp(prefix='{n}-')\nfh = open(name, 'wb')",
         "fh = tempfile.NamedTemporaryFile(prefix='{n}-', delete=False)\nname = fh.name"),
        ("os tempfile", "path = os.path.join('/tmp', '{n}{suf}')\nfh = open(path, 'w')",
         "fd, path = tempfile.mkstemp(suffix='{suf}')\nfh = os.fdopen(fd, 'w')"),
    ],
    "tls-verify-off": [
        ("requests", "r = requests.{meth}('https://{host}/' + {v}, verify=False, timeout=5)",
         "r = requests.{meth}('https://{host}/' + {v}, timeout=5)"),
        ("ssl", "ctx = ssl._create_unverified_context()", "ctx = ssl.create_default_context()"),
        ("ssl", "ctx = ssl.create_default_context()\nctx.check_hostname = False\nctx.verify_mode = ssl.CERT_NONE",
         "ctx = ssl.create_default_context()\nctx.check_hostname = True\nctx.verify_mode = ssl.CERT_REQUIRED"),
        ("requests", "session = requests.Session()\nsession.verify = False",
         "session = requests.Session()\nsession.verify = True"),
        ("httpx", "client = httpx.Client(base_url='https://{host}', verify=False)",
         "client = httpx.Client(base_url='https://{host}', verify=True)"),
        ("urllib3", "pool = urllib3.PoolManager(cert_reqs='CERT_NONE')",
         "pool = urllib3.PoolManager(cert_reqs='CERT_REQUIRED')"),
        ("aiohttp", "r = await session.get('https://{host}/' + {v}, ssl=False)",
         "r = await session.get('https://{host}/' + {v})"),
        ("ssl", "ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1)", "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)"),
    ],
    "xml-external-entities": [
        ("lxml.etree", "parser = lxml.etree.XMLParser(resolve_entities=True)",
         "parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True)"),
        ("defusedxml.minidom xml.dom.minidom", "tree = xml.dom.minidom.parseString({v})",
         "tree = defusedxml.minidom.parseString({v})"),
        ("defusedxml.ElementTree xml.etree.ElementTree", "root = xml.etree.ElementTree.fromstring({v})",
         "root = defusedxml.ElementTree.fromstring({v})"),
        ("xml.sax", "parser = xml.sax.make_parser()\nparser.setFeature(xml.sax.handler.feature_external_ges, True)",
         "parser = xml.sax.make_parser()\nparser.setFeature(xml.sax.handler.feature_external_ges, False)"),
        ("lxml.etree", "doc = lxml.etree.parse(path, lxml.etree.XMLParser(load_dtd=True, no_network=False))",
         "doc = lxml.etree.parse(path, lxml.etree.XMLParser(load_dtd=False, no_network=True))"),
    ],
    "path-traversal": [
        ("os", "full = os.path.join('{d}', {v})", "full = os.path.join('{d}', os.path.basename({v}))"),
        ("os", "full = '{d}/' + {v}",
         "full = os.path.realpath(os.path.join('{d}', {v}))\nif not full.startswith('{d}/'):\n    raise ValueError({v})"),
        ("tarfile", "archive.extractall(dest)", "archive.extractall(dest, filter='data')"),
        ("os werkzeug.utils", "full = os.path.join(UPLOAD_DIR, {v})",
         "full = os.path.join(UPLOAD_DIR, werkzeug.utils.secure_filename({v}))"),
        ("pathlib", "full = pathlib.Path('{d}') / {v}",
         "full = (pathlib.Path('{d}') / {v}).resolve()\nif not full.is_relative_to('{d}'):\n    raise PermissionError({v})"),
        ("flask", "out = flask.send_file('{d}/' + {v})", "out = flask.send_from_directory('{d}', {v})"),
    ],
    "debug-bind-all": [
        ("flask", "app.run(debug=True, port={port})", "app.run(debug=False, port={port})"),
        ("flask", "app.run(host='0.0.0.0', port={port}, debug=True)", "app.run(host='127.0.0.1', port={port})"),
        ("uvicorn", "uvicorn.run(app, host='0.0.0.0', port={port})",
         "uvicorn.run(app, host='127.0.0.1', port={port})"),
        ("socket", "srv = socket.socket()\nsrv.bind(('0.0.0.0', {port}))",
         "srv = socket.socket()\nsrv.bind(('127.0.0.1', {port}))"),
        ("", "DEBUG = True", "DEBUG = False"),
    ],
    "weak-cipher": [
        ("Crypto.Cipher.AES", "c = Crypto.Cipher.AES.new(key, Crypto.Cipher.AES.MODE_ECB)",
         "c = Crypto.Cipher.AES.new(key, Crypto.Cipher.AES.MODE_GCM)"),
        ("Crypto.Cipher.AES Crypto.Cipher.DES", "c = Crypto.Cipher.DES.new(key[:8], Crypto.Cipher.DES.MODE_CBC, iv)",
         "c = Crypto.Cipher.AES.new(key, Crypto.Cipher.AES.MODE_CBC, iv)"),
        ("Crypto.Cipher.ARC4 Crypto.Cipher.ChaCha20", "c = Crypto.Cipher.ARC4.new(key)",
         "c = Crypto.Cipher.ChaCha20.new(key=key)"),
        ("Crypto.Cipher.AES Crypto.Cipher.Blowfish", "c = Crypto.Cipher.Blowfish.new(key, Crypto.Cipher.Blowfish.MODE_ECB)",
         "c = Crypto.Cipher.AES.new(key, Crypto.Cipher.AES.MODE_GCM)"),
        ("hz", "c = hz.Cipher(hz.algorithms.AES(key), hz.modes.ECB())",
         "c = hz.Cipher(hz.algorithms.AES(key), hz.modes.GCM(iv))"),
        ("hz", "c = hz.Cipher(hz.algorithms.TripleDES(key), hz.modes.CBC(iv))",
         "c = hz.Cipher(hz.algorithms.AES(key), hz.modes.CBC(iv))"),
    ],
    "jwt-no-verify": [
        ("jwt", "claims = jwt.decode(token, options={{'verify_signature': False}})",
         "claims = jwt.decode(token, KEY, algorithms=['HS256'])"),
        ("jwt", "claims = jwt.decode(token, KEY, algorithms=['HS256', 'none'])",
         "claims = jwt.decode(token, KEY, algorithms=['HS256'])"),
        ("jwt", "claims = jwt.decode(token, verify=False)", "claims = jwt.decode(token, KEY, algorithms=['RS256'])"),
        ("jose.jwt", "claims = jose.jwt.get_unverified_claims(token)",
         "claims = jose.jwt.decode(token, KEY, algorithms=['HS256'])"),
    ],
    "permissive-permissions": [
        ("os", "os.chmod(path, {bad_mode})", "os.chmod(path, {good_mode})"),
        ("os", "os.makedirs(path, mode=0o777, exist_ok=True)", "os.makedirs(path, mode=0o700, exist_ok=True)"),
        ("os", "os.umask(0)", "os.umask(0o077)"),
        ("pathlib", "pathlib.Path(path).chmod(0o666)", "pathlib.Path(path).chmod(0o600)"),
        ("os", "fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)", "fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)"),
    ],
    "ssh-host-key": [
        ("paramiko", "client.set_missing_host_key_policy(paramiko.AutoAddPolicy())",
         "client.set_missing_host_key_policy(paramiko.RejectPolicy())"),
        ("paramiko", "client.set_missing_host_key_policy(paramiko.WarningPolicy())", "client.load_system_host_keys()"),
        ("asyncssh", "conn = await asyncssh.connect('{host}', known_hosts=None)",
         "conn = await asyncssh.connect('{host}', known_hosts='~/.ssh/known_hosts')"),
    ],
}
CLASSES = list(CONSTRUCTS)
# Constructs that stand at module level (settings, constants); the others sit inside code.
MODULE_LEVEL = ("{K} = ", "CONFIG = ", "HEADERS = ", "DEBUG = ", "app.config[")
# Free names a construct may use; those it does not assign itself become parameters of its function.
IMPORT_AS = {"hz": "from cryptography.hazmat.primitives import ciphers as hz"}
FREE = ("conn", "cursor", "path", "key", "iv", "token", "salt", "archive", "dest", "client", "session", "app", "request")


def _fills(rng: random.Random) -> dict[str, str]:
    tool = _pick(rng, TOOLS)
    n = _pick(rng, NOUNS)
    return {
        "v": _var(rng), "n": n, "T": n.title(), "t": _pick(rng, TABLES), "c": _pick(rng, COLUMNS),
        "d": _pick(rng, DIRS), "host": _pick(rng, HOSTS), "tool": " ".join(x for x in tool if x),
        "port": str(_pick(rng, [5000, 8000, 8080, 3000, 9000])), "N": str(_pick(rng, [8, 12, 16, 24, 32])),
        "bits": str(_pick(rng, [32, 64, 128])), "suf": _pick(rng, [".txt", ".json", ".tmp", ".log", ".dat"]),
        "secret": _pick(rng, SECRETS + KEYS), "K": _pick(rng, ["API_KEY", "SECRET_KEY", "DB_PASSWORD", "AUTH_TOKEN",
                                                               "PRIVATE_TOKEN", "ACCESS_SECRET", "STRIPE_KEY"]),
        "pw": _pick(rng, ["password", "passwd", "pwd", "secret", "pin", "raw_password"]),
        "algo": _pick(rng, ["md5", "sha1"]), "meth": _pick(rng, ["get", "post", "put", "delete"]),
        "op": _pick(rng, ["SELECT * FROM", "DELETE FROM", "SELECT id FROM", "SELECT count(*) FROM", "UPDATE"]),
        "bad_mode": _pick(rng, ["0o777", "0o666", "0o776", "0o757"]), "good_mode": _pick(rng, ["0o600", "0o640", "0o700"]),
    }


def _imports(names: str, logging: bool = False) -> str:
    lines = sorted({IMPORT_AS.get(m, f"import {m}") for m in names.split()} | ({"import logging"} if logging else set()))
    return "\n".join(lines) + ("\n\nlog = logging.getLogger(__name__)" if logging else "") + "\n\n\n"


def _free(code: str) -> list[str]:
    """Names the construct reads but never assigns: they become parameters."""
    return [x for x in FREE if re.search(rf"\b{x}\b", code) and not re.search(rf"^\s*{x} = ", code, re.M)]


def _indent(code: str, n: int) -> str:
    return textwrap.indent(code.rstrip("\n"), " " * n) + "\n" if code.strip() else ""


def _ordinary_lines(rng: random.Random, v: str, n: str, logging: bool) -> tuple[str, str]:
    """Statements before and after the construct, the same in both twins."""
    pre = ["", f'"""Handle one {n}."""\n', f"# the {n} comes from the public form\n",
           f"if not {v}:\n    raise ValueError('empty {n}')\n", f"{v} = str({v}).strip()\n"]
    post = ["", "count = 1\n", f"# TODO: cache the {n}\n"]
    if logging:
        pre.append(f"log.info('processing {n} %s', {v})\n")
        post.append(f"log.debug('{n} done')\n")
    return _pick(rng, pre), _pick(rng, post)


def render(rng: random.Random, cls: str) -> tuple[str, str]:
    """One program of class ``cls``, insecure and fixed: a construct in a drawn shape with drawn names."""
    imports, bad, good = _pick(rng, CONSTRUCTS[cls])
    fills = _fills(rng)
    bad, good = bad.format(**fills), good.format(**fills)
    v, n = fills["v"], fills["n"]
    both = bad + "\n" + good
    if bad.startswith(("app.run", "uvicorn.run")):  # a web app's entry point
        web = "flask" if bad.startswith("app.run") else "fastapi"
        app = "flask.Flask(__name__)" if web == "flask" else "fastapi.FastAPI()"
        route = "route" if web == "flask" else "get"
        head = (_imports(f"{imports} {web}") + f"app = {app}\n\n\n@app.{route}('/{n}')\ndef show_{n}():\n"
                f"    return {{'{n}': 'ok'}}\n\n\nif __name__ == '__main__':\n")
        return head + _indent(bad, 4), head + _indent(good, 4)
    if bad.startswith(MODULE_LEVEL):  # a setting or constant, then code that uses it
        name = bad.split(" =")[0].split("[")[0]
        head = _imports(f"{imports} flask" if name == "app.config" else imports)
        if name == "app.config":
            head += "app = flask.Flask(__name__)\n"
        elif name == "DEBUG":
            head += f"ALLOWED_HOSTS = ['{fills['host']}']\nROOT_URLCONF = '{n}.urls'\n"
        use = "app" if name == "app.config" else name
        tail = f"\n\ndef {_name(rng)}({v}):\n    print('using', {use})\n    return {v}\n"
        return head + bad + "\n" + tail, head + good + "\n" + tail
    params = ", ".join(dict.fromkeys([v, *_free(both)]))
    logging = rng.random() < 0.5
    pre, post = _ordinary_lines(rng, v, n, logging)
    ret = "out" if re.search(r"^out = ", both, re.M) else v
    shape = "async" if "await " in both else _pick(rng, ["function", "function", "method", "async"])
    head = _imports(imports, logging)
    f = _name(rng)
    if shape == "method":
        head += (f"class {n.title()}Service:\n    def __init__(self, limit=10):\n        self.limit = limit\n\n"
                 f"    def {f}(self, {params}):\n")
        ind = 8
    else:
        head += f"{'async ' if shape == 'async' else ''}def {f}({params}):\n"
        ind = 4
    head += _indent(pre, ind)
    tail = _indent(post + f"return {ret}", ind)
    return head + _indent(bad, ind) + tail, head + _indent(good, ind) + tail
