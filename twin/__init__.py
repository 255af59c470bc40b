"""pass-twin: a discrete-event digital twin of a pinching-antenna system (PASS).

Layers (see docs/architecture.md): ``units`` → ``scene`` → ``geometry`` / ``physics``
→ ``optim`` → ``policies`` → ``engine`` → ``traces`` → ``experiments`` → ``cli``.
"""

__version__ = "0.1.0"
