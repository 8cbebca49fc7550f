"""One router per domain; ``andon.server.app.ROUTERS`` lists the ones the app mounts."""
