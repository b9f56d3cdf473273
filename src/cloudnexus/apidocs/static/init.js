// Starts Swagger UI on /openapi.json, found relative to the page (so a base path such as
// /prod keeps working). A file of its own: the page's Content-Security-Policy runs no inline
// script.
window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
