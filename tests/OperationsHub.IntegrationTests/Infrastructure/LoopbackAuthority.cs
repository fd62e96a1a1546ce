using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OperationsHub.IntegrationTests.Infrastructure;

/// <summary>An Entra authority's OpenID Connect discovery document and (empty) key set, on loopback.</summary>
public sealed class LoopbackAuthority : IAsyncDisposable
{
    public const string DirectoryId = "11111111-2222-3333-4444-555555555555";

    private readonly WebApplication _app;

    private LoopbackAuthority(WebApplication app, string instance)
    {
        _app = app;
        Instance = instance;
    }

    /// <summary>What <c>AzureAd:Instance</c> is set to, <c>http://127.0.0.1:port/</c>.</summary>
    public string Instance { get; }

    public static async Task<LoopbackAuthority> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet($"/{DirectoryId}/v2.0/.well-known/openid-configuration", (HttpContext context) =>
        {
            var root = $"{context.Request.Scheme}://{context.Request.Host}/{DirectoryId}";
            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = $"{root}/v2.0",
                ["authorization_endpoint"] = $"{root}/oauth2/v2.0/authorize",
                ["token_endpoint"] = $"{root}/oauth2/v2.0/token",
                ["end_session_endpoint"] = $"{root}/oauth2/v2.0/logout",
                ["jwks_uri"] = $"{root}/discovery/v2.0/keys",
                ["response_types_supported"] = new[] { "code", "id_token", "code id_token" },
                ["subject_types_supported"] = new[] { "pairwise" },
                ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            });
        });
        app.MapGet($"/{DirectoryId}/discovery/v2.0/keys", () => Results.Json(new { keys = Array.Empty<object>() }));
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LoopbackAuthority(app, address.TrimEnd('/') + "/");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
