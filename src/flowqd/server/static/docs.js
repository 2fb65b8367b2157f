// Swagger UI over this server's OpenAPI document; the session cookie authenticates, the CSRF header is added.
const csrf = document.querySelector("meta[name=csrf-token]").content;
window.ui = SwaggerUIBundle({
  url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  requestInterceptor: (req) => { if (csrf) req.headers["X-CSRF-Token"] = csrf; return req; },
});
