// Swagger UI over this server's OpenAPI document (the session cookie authenticates the requests).
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
