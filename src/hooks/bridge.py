# pum's Python bridge: runs one Python delta or hook file for pum (the Rust one).
#
# pum starts this script with the context in the PUM_BRIDGE environment variable (JSON).
# It provides the `pum` module API the file imports (pum 0.x's DeltaPy), whether or not
# Python pum is installed, loads the file, runs it, and reports a failure on stderr as
# one line starting with "pum-bridge-error " followed by JSON, which pum turns into its
# error. The file connects through the service pum names (self.pg_service), which leads
# to pum's own session: its SQL runs in the run's transaction.

import importlib.util
import json
import os
import sys
import traceback
import types


def _context():
    return json.loads(os.environ["PUM_BRIDGE"])


class _Text(str):
    """A str that can also be called, as pum 0.x's README shows (self.pg_service())."""

    def __call__(self):
        return self


class _Version:
    """A version that compares numerically, as packaging's does (used without packaging)."""

    def __init__(self, text):
        self._text = text
        self._parts = tuple(int(p) for p in text.split("."))

    def _key(self):
        parts = list(self._parts)
        while parts and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    def __eq__(self, other):
        return self._key() == _as_version(other)._key()

    def __lt__(self, other):
        return self._key() < _as_version(other)._key()

    def __le__(self, other):
        return self._key() <= _as_version(other)._key()

    def __gt__(self, other):
        return self._key() > _as_version(other)._key()

    def __ge__(self, other):
        return self._key() >= _as_version(other)._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        return self._text

    def __repr__(self):
        return "<Version('%s')>" % self._text

    def __call__(self):
        return self

    @property
    def release(self):
        return self._parts

    @property
    def public(self):
        return self._text

    base_version = public


def _as_version(value):
    if isinstance(value, _Version):
        return value
    return _Version(str(value))


def _version(text):
    if text is None:
        return None
    try:
        from packaging.version import Version

        class _CallableVersion(Version):
            def __call__(self):
                return self

        return _CallableVersion(text)
    except ImportError:
        return _Version(text)


class DeltaPy:
    """pum 0.x's DeltaPy: subclass it and implement run()."""

    def __init__(self, current_db_version, delta_dir, delta_dirs, pg_service,
                 upgrades_table, variables):
        self.__current_db_version = current_db_version
        self.__delta_dir = delta_dir
        self.__delta_dirs = delta_dirs
        self.__pg_service = pg_service
        self.__upgrades_table = upgrades_table
        self.__variables = variables

    def run(self):
        raise NotImplementedError("a DeltaPy subclass implements run()")

    @property
    def variables(self):
        return self.__variables

    @property
    def current_db_version(self):
        return self.__current_db_version

    @property
    def delta_dir(self):
        return self.__delta_dir

    @property
    def delta_dirs(self):
        return self.__delta_dirs

    @property
    def pg_service(self):
        return self.__pg_service

    @property
    def upgrades_table(self):
        return self.__upgrades_table

    def write_message(self, text):
        print("Message from {}: {}".format(self.__class__.__name__, text), flush=True)


def _install_modules():
    """Makes `pum.core.deltapy` (and the README's `core.deltapy`) this bridge's."""
    for prefix in ("pum", "core"):
        names = ["pum", "pum.core", "pum.core.deltapy"] if prefix == "pum" else [
            "core", "core.deltapy"]
        for name in names:
            module = types.ModuleType(name)
            module.__path__ = []
            sys.modules[name] = module
        deltapy = sys.modules[names[-1]]
        deltapy.DeltaPy = DeltaPy
        parent = sys.modules[names[-2]]
        parent.deltapy = deltapy
        if prefix == "pum":
            sys.modules["pum"].core = sys.modules["pum.core"]


def _run_deltapy(context):
    path = context["file"]
    spec = importlib.util.spec_from_file_location(context["module"], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    variables = context["variables"]
    for name in dir(module):
        obj = getattr(module, name)
        if isinstance(obj, type) and obj is not DeltaPy and issubclass(obj, DeltaPy):
            delta = obj(
                _version(context["current_version"]),
                _Text(context["delta_dir"]),
                context["delta_dirs"],
                _Text(context["service"]),
                _Text(context["table"]),
                variables=variables,
            )
            delta.run()


def _report(error, path):
    """One line for pum: where in the file, and what."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            line = frame.lineno
    if isinstance(error, SyntaxError) and error.filename and line is None:
        line = error.lineno
    # A database error: the server's own message, without psycopg's CONTEXT lines.
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    message = "{}: {}".format(type(error).__name__, primary or str(error).strip())
    if isinstance(error, ModuleNotFoundError):
        message = "{} (install it for {})".format(message, sys.executable)
    sys.stderr.write("pum-bridge-error " + json.dumps({"line": line, "message": message}) + "\n")
    sys.stderr.flush()


def main():
    context = _context()
    _install_modules()
    sys.dont_write_bytecode = True
    try:
        _run_deltapy(context)
    except SystemExit as error:
        if error.code not in (0, None):
            _report(error, context["file"])
            sys.exit(1)
    except BaseException as error:  # noqa: B902 - everything is reported to pum
        traceback.print_exc()
        _report(error, context["file"])
        sys.exit(1)


main()
