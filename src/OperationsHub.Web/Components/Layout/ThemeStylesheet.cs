using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;

namespace OperationsHub.Web.Components.Layout;

/// <summary>
/// The brand palette (<see cref="HubTheme"/>) as one static, cacheable stylesheet instead of MudThemeProvider's style
/// block in every circuit (12,000 characters, twice per circuit once it re-renders). MudThemeProvider itself writes the
/// CSS, rendered once per process with the static HTML renderer, so the variables are exactly MudBlazor's: light on
/// <c>:root</c>; dark where the layout carries <c>hub-theme-dark</c>, or <c>hub-theme-system</c> on a device that
/// prefers dark (the browser follows the device's setting live, with no script and no round trip).
/// </summary>
internal sealed partial class ThemeStylesheet(IServiceProvider services, ILoggerFactory loggers)
{
    public const string Path = "/theme.css";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private (string Css, string ETag)? _built;

    /// <summary>The class on the layout's root that picks the palette for a preference.</summary>
    public static string ClassFor(OperationsHub.Core.Domain.ThemePreference preference) => preference switch
    {
        OperationsHub.Core.Domain.ThemePreference.Dark => "hub-theme-dark",
        OperationsHub.Core.Domain.ThemePreference.Light => "hub-theme-light",
        _ => "hub-theme-system",
    };

    public async Task<(string Css, string ETag)> GetAsync()
    {
        if (_built is { } built)
        {
            return built;
        }

        await _gate.WaitAsync();
        try
        {
            if (_built is null)
            {
                var css = await BuildAsync(HubTheme.Create());
                var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(css)))[..16];
                _built = (css, $"\"{hash}\"");
            }

            return _built.Value;
        }
        finally
        {
            _gate.Release();
        }
    }

    internal async Task<string> BuildAsync(MudTheme theme)
    {
        var light = await RenderStylesAsync(theme, dark: false);
        var dark = await RenderStylesAsync(theme, dark: true);
        var darkRoot = RootBlock().Match(dark);
        if (!RootBlock().IsMatch(light) || !darkRoot.Success)
        {
            throw new InvalidOperationException("MudThemeProvider's styles have no :root block; the theme stylesheet cannot be built.");
        }

        var darkVariables = darkRoot.Groups["body"].Value.Trim();
        return new StringBuilder()
            .AppendLine("/* OperationsHub palette: generated from HubTheme by MudThemeProvider, once per process. */")
            .AppendLine(light.Trim())
            .Append(":root:has(.hub-theme-dark){").Append(darkVariables).AppendLine("}")
            .Append("@media (prefers-color-scheme: dark){:root:has(.hub-theme-system){").Append(darkVariables).AppendLine("}}")
            .ToString();
    }

    /// <summary>The contents of every style element MudThemeProvider renders for one palette.</summary>
    private async Task<string> RenderStylesAsync(MudTheme theme, bool dark)
    {
        await using var scope = services.CreateAsyncScope();
        await using var renderer = new HtmlRenderer(scope.ServiceProvider, loggers);
        var html = await renderer.Dispatcher.InvokeAsync(async () =>
        {
            var output = await renderer.RenderComponentAsync<MudThemeProvider>(ParameterView.FromDictionary(new Dictionary<string, object?>
            {
                [nameof(MudThemeProvider.Theme)] = theme,
                [nameof(MudThemeProvider.IsDarkMode)] = dark,
            }));
            return output.ToHtmlString();
        });

        var styles = new StringBuilder();
        foreach (Match style in StyleElement().Matches(html))
        {
            styles.AppendLine(WebUtility.HtmlDecode(style.Groups["css"].Value.Trim()));
        }

        return styles.ToString();
    }

    public static void Map(IEndpointRouteBuilder app) => app.MapGet(Path, async (HttpContext http, ThemeStylesheet sheet) =>
    {
        var (css, etag) = await sheet.GetAsync();
        http.Response.Headers.ETag = etag;
        http.Response.Headers.CacheControl = "public, max-age=3600";
        if (http.Request.Headers.IfNoneMatch.Contains(etag))
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Text(css, "text/css; charset=utf-8");
    }).AllowAnonymous().ExcludeFromDescription();

    [GeneratedRegex(@"<style[^>]*>(?<css>.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex StyleElement();

    [GeneratedRegex(@":root\s*\{(?<body>[^}]*)\}", RegexOptions.Singleline)]
    private static partial Regex RootBlock();
}
