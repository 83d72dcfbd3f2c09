"""The steering playground: static files (``index.html``, ``app.js``, ``style.css``) and their routes."""
