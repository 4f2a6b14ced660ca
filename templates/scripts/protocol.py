"""One line for the engine among a script's output, `::KIND ARGS`
(crates/factory/src/protocol.rs, ScriptLine: every kind and its form). The
shell scripts have `say` (_protocol.sh.j2)."""


def say(kind, *args):
    print("::" + " ".join([kind, *(str(a) for a in args)]), flush=True)
