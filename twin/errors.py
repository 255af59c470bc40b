"""User-facing errors: one clear message naming the file, the field and the fix."""


class ConfigError(Exception):
    """Bad input: ``source`` (file or option), ``field`` (dotted path), what is wrong, fix."""

    def __init__(self, source: str, field: str, problem: str, fix: str = ""):
        self.source, self.field, self.problem, self.fix = str(source), field, problem, fix
        msg = f"{self.source}: {field}: {problem}"
        if fix:
            msg += f" (fix: {fix})"
        super().__init__(msg)
