# pum's Python bridge: runs one Python delta or hook file for pum (the Rust one).
#
# pum starts this script with the context in the PUM_BRIDGE environment variable (JSON).
# It provides the `pum` module API the file imports (pum 0.x's DeltaPy, pum 1.x's
# HookBase), whether or not Python pum is installed, loads the file, runs it, and reports
# a failure on stderr as one line starting with "pum-bridge-error " followed by JSON,
# which pum turns into its error. The file's connections (through the service pum names,
# or the PG* variables pum sets) lead to pum's own session: their SQL runs in the run's
# transaction.

import importlib.metadata
import importlib.util
import inspect
import re
import socket
import copy
import json
import os
import sys
import traceback
import types


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


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class HookBase:
    """pum 1.x's HookBase: subclass it as `Hook` and implement run_hook(connection, ...)."""

    def __init__(self):
        self._parameters = None
        self._connection = None

    def _prepare(self, connection, parameters=None):
        self._connection = connection
        self._parameters = copy.deepcopy(parameters)

    def run_hook(self, connection, parameters=None):
        raise NotImplementedError("a Hook implements run_hook(connection, ...)")

    def execute(self, sql):
        """Runs SQL text, a psycopg.sql object or the SQL file a Path names, with the
        hook's parameters as literals in place of {name}; nothing is committed."""
        SqlContent(sql).execute(
            self._connection, parameters=SqlContent.prepare_parameters(self._parameters))

    execute.__isfinal__ = True


class PumException(Exception):
    """Python pum's base exception (pum.exceptions)."""


class PumConfigError(PumException):
    pass


class PumDependencyError(PumException):
    pass


class PumInvalidChangelog(PumException):
    pass


class PumSchemaMigrationError(PumException):
    pass


class PumSchemaMigrationNoBaselineError(PumSchemaMigrationError):
    pass


class PumHookError(PumException):
    pass


class PumSqlError(PumException):
    pass


class CursorResult:
    """What SqlContent.execute returns: the rows of the last statement, readable after
    its cursor closed."""

    def __init__(self, results=None, description=None, rowcount=0):
        self._pum_results = results
        self._pum_description = description
        self._pum_rowcount = rowcount
        self._pum_index = 0

    @property
    def description(self):
        return self._pum_description

    @property
    def rowcount(self):
        return self._pum_rowcount

    def fetchall(self):
        rows = (self._pum_results or [])[self._pum_index:]
        self._pum_index += len(rows)
        return rows

    def fetchone(self):
        rows = self._pum_results or []
        if self._pum_index >= len(rows):
            return None
        self._pum_index += 1
        return rows[self._pum_index - 1]

    def fetchmany(self, size=1):
        rows = (self._pum_results or [])[self._pum_index:self._pum_index + size]
        self._pum_index += len(rows)
        return rows


class SqlContent:
    """Python pum's SqlContent: SQL text, a psycopg.sql object, or a file (a Path), run
    with {name} placeholders filled from parameters."""

    def __init__(self, sql):
        self.sql = sql

    @staticmethod
    def prepare_parameters(parameters):
        """The parameters as psycopg.sql.Literal values."""
        import psycopg.sql

        return {k: psycopg.sql.Literal(v) for k, v in (parameters or {}).items()}

    def validate(self, parameters=None):
        if not self.sql:
            raise PumSqlError("SQL content is empty.")
        return True

    def execute(self, connection, *, parameters=None, commit=False):
        import psycopg.sql

        sql = self.sql
        if isinstance(sql, os.PathLike):
            # utf-8-sig: a byte order mark at the start is not SQL (psql drops it too).
            with open(sql, encoding="utf-8-sig") as file:
                sql = file.read()
        parameters = parameters or {}
        if isinstance(sql, psycopg.sql.Composable):
            if isinstance(sql, psycopg.sql.SQL):
                sql = sql.format(**{k: _composable(v) for k, v in parameters.items()})
            text = sql.as_string(connection)
        else:
            text = _render(str(sql), parameters, connection)
        with connection.cursor() as cursor:
            try:
                cursor.execute(text)
            except psycopg.Error as error:
                raise PumSqlError("SQL execution failed for the following code: %s %s"
                                  % (text.strip()[:200], error)) from error
            if commit:
                connection.commit()
            if cursor.description is None:
                return CursorResult(None, None, cursor.rowcount)
            return CursorResult(cursor.fetchall(), cursor.description, cursor.rowcount)


def _composable(value):
    import psycopg.sql

    if isinstance(value, psycopg.sql.Composable):
        return value
    return psycopg.sql.Literal(value)


def _render(text, parameters, connection):
    """{name} in text replaced by the parameter's literal ({{ and }} are braces)."""

    def replace(match):
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name not in parameters:
            raise PumSqlError("the SQL uses {%s}, which is not a parameter" % name)
        return _composable(parameters[name]).as_string(connection)

    return _PLACEHOLDER.sub(replace, text)


def _install_modules():
    """Makes `pum.core.deltapy` (and the README's `core.deltapy`) and the parts of pum
    1.x that hooks import (`pum.HookBase`, `pum.SqlContent`, `pum.exceptions`…) this
    bridge's."""
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
    pum = sys.modules["pum"]
    exported = {
        "pum.hook": {"HookBase": HookBase},
        "pum.sql_content": {"SqlContent": SqlContent, "CursorResult": CursorResult},
        "pum.exceptions": {c.__name__: c for c in (
            PumException, PumConfigError, PumDependencyError, PumInvalidChangelog,
            PumSchemaMigrationError, PumSchemaMigrationNoBaselineError, PumHookError,
            PumSqlError)},
    }
    for name, members in exported.items():
        module = types.ModuleType(name)
        for key, value in members.items():
            setattr(module, key, value)
        sys.modules[name] = module
        setattr(pum, name.split(".")[1], module)
    pum.HookBase = HookBase
    pum.SqlContent = SqlContent
    pum.CursorResult = CursorResult
    # The logging level of Python pum's SQL statements, and the version this bridge
    # stands in for.
    pum.SQL = 5
    pum.__version__ = "1.9.2"


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


class _Refused(Exception):
    """A hook file pum cannot run as it is."""


def _check_dependencies(dependencies):
    for name, minimum, maximum in dependencies:
        wanted = " ".join(
            part for part in (
                ">= %s" % minimum if minimum else "", "<= %s" % maximum if maximum else "")
            if part)
        try:
            found = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise _Refused("the project needs the Python package %s%s, which %s does not have: "
                           "pip install %s" % (name, " " + wanted if wanted else "",
                                                sys.executable, name)) from None
        version = _as_version(re.match(r"[0-9]+(\.[0-9]+)*", found).group(0))
        if (minimum and version < minimum) or (maximum and version > maximum):
            raise _Refused("the project needs the Python package %s %s, and %s has %s" % (
                name, wanted, sys.executable, found))


# Hook files imported ahead of their run (pum sends "preload" at the start of a run, as
# Python pum imports them when it reads the configuration): path -> (module, None) or
# (None, the exception the import raised, raised again when the file runs).
_preloaded = {}


def _hook_paths(context):
    path = os.path.abspath(context["file"])
    parent = os.path.dirname(path)
    # Local imports in hook files: the file's directory, then the project's.
    for entry in reversed([parent, context["base_dir"]]):
        if entry and entry not in sys.path[:2]:
            sys.path.insert(0, entry)
    return path, parent


def _import_hook(context):
    path, parent = _hook_paths(context)
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=[parent])
    module = importlib.util.module_from_spec(spec)
    module.__path__ = [parent]
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _preload(context):
    """Imports a hook file now; what its run will use. Its errors wait for its run."""
    path = os.path.abspath(context["file"])
    try:
        import psycopg  # noqa: F401 - imported now, while pum runs the changelogs
    except ImportError:
        pass
    try:
        # Warms importlib.metadata (its first lookup costs milliseconds): the check that
        # counts is made again when the file runs.
        _check_dependencies(context.get("dependencies") or [])
    except Exception:  # noqa: B902 - reported when the file runs
        pass
    try:
        _preloaded[path] = (_import_hook(context), None)
    except BaseException as error:  # noqa: B902 - raised again when the file runs
        _preloaded[path] = (None, error)


def _run_hook(context):
    _check_dependencies(context["dependencies"])
    path = os.path.abspath(context["file"])
    module, error = _preloaded.pop(path, (None, None))
    if error is not None:
        raise error
    if module is None:
        module = _import_hook(context)
    else:
        _hook_paths(context)
    hook_class = getattr(module, "Hook", None)
    if not inspect.isclass(hook_class):
        raise _Refused("a Python hook defines a class named Hook")
    if "HookBase" not in [base.__name__ for base in inspect.getmro(hook_class)]:
        raise _Refused("its class Hook must inherit from HookBase (from pum import HookBase)")
    arguments = list(inspect.signature(hook_class.run_hook).parameters)
    if "connection" not in arguments:
        raise _Refused("its run_hook must take a connection argument")
    parameters = context["parameters"]
    wanted = [a for a in arguments if a not in ("self", "connection")]
    for argument in wanted:
        if argument not in parameters:
            raise _Refused("run_hook takes %s, which is not a parameter of the project" % argument)
    import psycopg

    # The PG* variables pum sets lead to its own session.
    connection = psycopg.connect("")
    try:
        hook = hook_class()
        hook._prepare(connection, parameters)
        given = {k: v for k, v in parameters.items() if k in wanted}
        hook.run_hook(connection=connection, **given)
        # The hook's work joins the run's transaction (which commits, or not, later).
        connection.commit()
    finally:
        connection.close()


def _failure(error, path):
    """What pum is told of a failure: where in the file, and what, on one line."""
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
    if isinstance(error, _Refused):
        message = str(error)
    if isinstance(error, ModuleNotFoundError):
        message = "{} (install it for {})".format(message, sys.executable)
    return {"ok": False, "line": line, "message": message}


def _run(context):
    """Runs one file; what to tell pum."""
    try:
        if context.get("kind") == "hook":
            _run_hook(context)
        else:
            _run_deltapy(context)
        # Connections the file left open are closed by pum when the file's turn ends
        # (what they did not commit goes away), as they would be at its exit.
        return {"ok": True}
    except SystemExit as error:
        if error.code in (0, None):
            return {"ok": True}
        return _failure(error, context["file"])
    except BaseException as error:  # noqa: B902 - everything is reported to pum
        traceback.print_exc()
        return _failure(error, context["file"])


def main():
    """Runs the files pum sends on the control socket, one JSON line each, answering a
    JSON line each, until pum closes it."""
    _install_modules()
    sys.dont_write_bytecode = True
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.connect(os.environ["PUM_BRIDGE_CONTROL"])
    # Hook files to import first, while pum runs the changelogs. Connected already: a
    # file that connects to the database as it is imported waits for pum to serve it,
    # which pum does once it hands over the first file (it never waits for an import).
    for context in json.loads(os.environ.pop("PUM_BRIDGE_PRELOAD", "[]")):
        _preload(context)
    requests = control.makefile("r", encoding="utf-8")
    for line in requests:
        if not line.strip():
            continue
        context = json.loads(line)
        if context.get("preload"):
            # No answer: pum goes on with the changelogs meanwhile.
            _preload(context)
            continue
        answer = _run(context)
        # Every line the file printed comes before this one (pum waits for it).
        sys.stdout.write("\n\x1epum-bridge-end\n" if _unfinished_line() else "\x1epum-bridge-end\n")
        sys.stdout.flush()
        sys.stderr.flush()
        control.sendall((json.dumps(answer) + "\n").encode("utf-8"))
    # pum closed the control socket: the run is over. The files' exit handlers run, then
    # the interpreter ends without tearing its modules down one by one (a tenth of a
    # second for pirogue's and psycopg's, which pum would wait for).
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


_last = {"newline": True}


class _Tracking:
    """Standard output that remembers whether the last line was finished."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        if text:
            _last["newline"] = text.endswith("\n")
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _unfinished_line():
    return not _last["newline"]


sys.stdout = _Tracking(sys.stdout)
main()
