"""What the service app contributes to the extension points of the apps below it: one module
per extension point, each with a `register()` that `register_all()` calls from `ready()`."""

PART_MODULES: tuple[str, ...] = ("board", "customer_page", "desk")


def register_all() -> None:
    """Fill the lower apps' registries (called from `ServiceConfig.ready()`)."""
    from importlib import import_module

    for name in PART_MODULES:
        import_module(f"service.parts.{name}").register()
