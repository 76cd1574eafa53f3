"""The API's routers, one module per area; ``web.app`` mounts them all."""
