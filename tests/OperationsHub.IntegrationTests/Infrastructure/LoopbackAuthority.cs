using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using System.Security.Cryptography.X509Certificates;

namespace OperationsHub.IntegrationTests.Infrastructure;

/// <summary>
/// An Entra authority on loopback: its OpenID Connect discovery document, its signing key set, and a token endpoint
/// that issues v2.0 access tokens to registered confidential clients (client credentials grant), signed with RS256
/// the way Entra ID signs them. Tests can also mint a token directly (expired, for another audience, signed by a key
/// the authority does not publish) to see each refusal.
/// </summary>
public sealed class LoopbackAuthority : IAsyncDisposable
{
    public const string DirectoryId = "11111111-2222-3333-4444-555555555555";

    private readonly WebApplication _app;
    private readonly Dictionary<string, Client> _clients = new(StringComparer.Ordinal);

    private LoopbackAuthority(WebApplication app, string instance, X509Certificate2? certificate)
    {
        _app = app;
        Instance = instance;
        Certificate = certificate;
    }

    /// <summary>The authority's own TLS certificate when it serves HTTPS (self-signed for 127.0.0.1).</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>
    /// A handler that trusts this authority's certificate and nothing else self-signed: what a machine that trusts
    /// Entra ID's certificate authority has, for the one server this test runs.
    /// </summary>
    public HttpMessageHandler CreateTrustingHandler()
    {
        var thumbprint = Certificate?.Thumbprint;
        return new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, presented, _, errors) =>
                errors == System.Net.Security.SslPolicyErrors.None || (thumbprint is not null && presented?.Thumbprint == thumbprint),
        };
    }

    /// <summary>The key the authority signs with and publishes in its key set.</summary>
    internal static RsaSecurityKey SigningKey { get; } = NewKey("loopback-1");

    /// <summary>The hub's settings for EntraId mode against this authority, as an app registration with <paramref name="clientId"/>.</summary>
    public static Dictionary<string, string?> HubSettings(string instance, string clientId) => new()
    {
        ["Authentication:Mode"] = "EntraId",
        ["AzureAd:Instance"] = instance,
        ["AzureAd:TenantId"] = DirectoryId,
        ["AzureAd:ClientId"] = clientId,
        ["AzureAd:CallbackPath"] = "/signin-oidc",
    };

    /// <summary>The issuer of its v2.0 tokens for a directory.</summary>
    public string IssuerOf(string directoryId = DirectoryId) => $"{Instance}{directoryId}/v2.0";

    /// <summary>A confidential client (a daemon app) with its secret, its service principal's object id and its app roles.</summary>
    public void RegisterClient(string clientId, string secret, string objectId, params string[] roles)
    {
        lock (_clients)
        {
            _clients[clientId] = new Client(secret, objectId, roles);
        }
    }

    /// <summary>
    /// A signed v2.0 access token. Defaults are an app-only token (no scopes) for <paramref name="audience"/>, valid
    /// for an hour; pass <paramref name="expires"/> in the past, another audience or <paramref name="signingKey"/> to
    /// make one the API must refuse.
    /// </summary>
    public string IssueAccessToken(string audience, string clientId, string objectId, IReadOnlyList<string> roles,
        DateTime? expires = null, string? scopes = null, string? name = null, SecurityKey? signingKey = null, string directoryId = DirectoryId)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object>
        {
            ["tid"] = directoryId,
            ["oid"] = objectId,
            ["sub"] = objectId,
            ["azp"] = clientId,
            ["azpacr"] = "1",
            ["ver"] = "2.0",
            ["uti"] = Guid.NewGuid().ToString("N"),
        };
        if (roles.Count > 0)
        {
            claims["roles"] = roles.ToArray();
        }

        if (scopes is null)
        {
            claims["idtyp"] = "app";
        }
        else
        {
            claims["scp"] = scopes;
            claims["name"] = name ?? "Entra user";
        }

        var notBefore = expires is { } e && e < now ? e.AddHours(-1) : now.AddMinutes(-1);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = IssuerOf(directoryId),
            Audience = audience,
            Claims = claims,
            IssuedAt = notBefore,
            NotBefore = notBefore,
            Expires = expires ?? now.AddHours(1),
            SigningCredentials = new SigningCredentials(signingKey ?? SigningKey, SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>A key of nobody this authority knows.</summary>
    public static RsaSecurityKey NewKey(string keyId) =>
        new(System.Security.Cryptography.RSA.Create(2048)) { KeyId = keyId };

    /// <summary>What <c>AzureAd:Instance</c> is set to, <c>http://127.0.0.1:port/</c>.</summary>
    public string Instance { get; }

    /// <summary>
    /// Starts the authority on a free loopback port: plain HTTP (the sign-in tests relax the OpenID Connect handler's
    /// HTTPS rule), or HTTPS for what cannot be relaxed (Microsoft.Identity.Web's issuer validator fetches the
    /// discovery document itself and requires HTTPS).
    /// </summary>
    public static async Task<LoopbackAuthority> StartAsync(CancellationToken cancellationToken, bool https = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        var certificate = https ? SelfSignedCertificate() : null;
        if (certificate is null)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        }

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
        app.MapGet($"/{DirectoryId}/discovery/v2.0/keys", () =>
        {
            var key = JsonWebKeyConverter.ConvertFromRSASecurityKey(SigningKey);
            return Results.Json(new { keys = new[] { new { kty = key.Kty, use = "sig", kid = key.Kid, n = key.N, e = key.E } } });
        });
        LoopbackAuthority? authority = null;
        // The client credentials grant (RFC 6749 section 4.4) as Entra ID speaks it: scope is "<resource>/.default".
        app.MapPost($"/{DirectoryId}/oauth2/v2.0/token", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync();
            if (form["grant_type"] != "client_credentials")
            {
                return Results.Json(new { error = "unsupported_grant_type" }, statusCode: 400);
            }

            Client? client;
            lock (authority!._clients)
            {
                authority._clients.TryGetValue(form["client_id"].ToString(), out client);
            }

            if (client is null || client.Secret != form["client_secret"].ToString())
            {
                return Results.Json(new { error = "invalid_client", error_description = "AADSTS7000215: Invalid client secret provided." }, statusCode: 401);
            }

            var scope = form["scope"].ToString();
            if (!scope.EndsWith("/.default", StringComparison.Ordinal))
            {
                return Results.Json(new { error = "invalid_scope" }, statusCode: 400);
            }

            // Entra ID names the audience of a v2.0 token by the resource's application id.
            var resource = scope[..^"/.default".Length];
            var audience = resource.StartsWith("api://", StringComparison.Ordinal) ? resource["api://".Length..] : resource;
            var token = authority.IssueAccessToken(audience, form["client_id"].ToString(), client.ObjectId, client.Roles);
            return Results.Json(new { token_type = "Bearer", expires_in = 3599, access_token = token });
        });
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        authority = new LoopbackAuthority(app, address.TrimEnd('/') + "/", certificate);
        return authority;
    }

    private static X509Certificate2 SelfSignedCertificate()
    {
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, System.Security.Cryptography.HashAlgorithmName.SHA256,
            System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1")], false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS#12 so the private key is one TLS can use on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    private sealed record Client(string Secret, string ObjectId, string[] Roles);

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
