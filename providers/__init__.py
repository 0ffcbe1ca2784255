"""Built-in providers. They are found through the `llmplex` entry-point group, like any plugin."""
