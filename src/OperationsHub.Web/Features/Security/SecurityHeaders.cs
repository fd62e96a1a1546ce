namespace OperationsHub.Web.Features.Security;

/// <summary>
/// Headers that fit Blazor Server with MudBlazor: scripts only from this site (no inline script, no eval), styles from
/// this site plus inline style attributes (MudBlazor sets them), the circuit's WebSocket to this site, and no framing.
/// </summary>
internal static class SecurityHeaders
{
    private const string ContentSecurityPolicy =
        "default-src 'self'; " +
        "script-src 'self'; " +
        "style-src 'self' 'unsafe-inline'; " +
        "img-src 'self' data:; " +
        "font-src 'self' data:; " +
        "connect-src 'self' ws: wss:; " +
        "object-src 'none'; " +
        "base-uri 'self'; " +
        "form-action 'self'; " +
        "frame-ancestors 'none'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
            headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
            MakeLocationRelative(context);
            return Task.CompletedTask;
        });
        await next(context);
    });

    /// <summary>
    /// A redirect to this site's own address leaves as a path. Blazor's static rendering turns
    /// <c>NavigationManager.NavigateTo</c> into an absolute Location built from the request's Host header (the sign-in
    /// form's redirect to its return URL is one): behind a proxy that is the proxy's address, and with a forged Host an
    /// address of the attacker's choosing. Redirects to other sites (Entra ID's sign-in) are left alone.
    /// </summary>
    private static void MakeLocationRelative(HttpContext context)
    {
        var location = context.Response.Headers.Location.ToString();
        if (location.Length > 0
            && Uri.TryCreate(location, UriKind.Absolute, out var target)
            && target.Scheme is "http" or "https"
            && string.Equals(target.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase))
        {
            context.Response.Headers.Location = target.PathAndQuery + target.Fragment;
        }
    }
}
