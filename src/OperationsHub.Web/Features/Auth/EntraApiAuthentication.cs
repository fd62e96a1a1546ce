using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OperationsHub.Core.Domain;
using OperationsHub.Core.Sanitization;

namespace OperationsHub.Web.Features.Auth;

/// <summary>
/// What an Entra ID access token's principal carries once the hub has read it: the directory it was issued for and
/// the hub role its app roles grant (null: none of the hub's app roles). A token acts only in the hub tenants linked
/// to that directory (<see cref="Tenant.DirectoryTenantId"/>), so the directory's own admins decide, by assigning app
/// roles to their apps and people, what those may do in their tenant, and nothing anywhere else.
/// </summary>
public sealed record EntraApiGrant(string DirectoryTenantId, TenantRole? Role);

/// <summary>
/// The API's second bearer scheme, in <c>EntraId</c> mode: access tokens Entra ID issued for the hub's own app
/// registration (the <c>AzureAd</c> section's ClientId as audience), validated by Microsoft.Identity.Web's web API
/// authentication (signature from the authority's keys, issuer, audience, lifetime). The token's <c>roles</c> claim
/// (app roles, assigned to a daemon app or a person in Entra ID) maps to a hub role through
/// <see cref="HubAuthenticationOptions.ApiAppRoles"/>.
/// </summary>
public static partial class EntraApiAuthentication
{
    public const string Scheme = "EntraApi";

    /// <summary>The scheme the API's policy names: a JWT goes to <see cref="Scheme"/> (Entra ID mode), anything else to the hub's tokens.</summary>
    public const string SelectorScheme = "HubApiBearer";

    private const string DirectoryClaim = "hub_entra_api_directory";
    private const string RoleClaim = "hub_entra_api_role";
    private const string MissingIdentity = "The access token has no object id (oid) or tenant id (tid).";
    private const string ScopeClaim = "http://schemas.microsoft.com/identity/claims/scope";

    /// <summary>The app roles the hub's API registration defines out of the box, and the hub role each grants.</summary>
    public static IReadOnlyDictionary<string, TenantRole> DefaultAppRoles { get; } = new Dictionary<string, TenantRole>(StringComparer.Ordinal)
    {
        ["OperationsHub.Reader"] = TenantRole.Readonly,
        ["OperationsHub.Operator"] = TenantRole.Operator,
        ["OperationsHub.Manager"] = TenantRole.Manager,
    };

    /// <summary>The grant of a principal this scheme made on this request; null for people, hub API tokens and other schemes.</summary>
    public static EntraApiGrant? GetEntraApiGrant(this ClaimsPrincipal principal)
    {
        var identity = principal.Identities.FirstOrDefault(i => i.IsAuthenticated && i.AuthenticationType == Scheme);
        if (identity?.FindFirst(DirectoryClaim)?.Value is not { Length: > 0 } directory)
        {
            return null;
        }

        return new EntraApiGrant(directory,
            Enum.TryParse<TenantRole>(identity.FindFirst(RoleClaim)?.Value, out var role) ? role : null);
    }

    /// <summary>True when a bearer value has a JWT's shape (three dot-separated parts); hub tokens never do.</summary>
    public static bool LooksLikeJwt(string bearer) => bearer.Count(c => c == '.') == 2;

    /// <summary>The hub's handling of the JWT bearer events: the principal it acts as, and refusals as problem details.</summary>
    public static void ConfigureEvents(JwtBearerOptions jwt)
    {
        jwt.MapInboundClaims = true;
        jwt.Events ??= new JwtBearerEvents();
        jwt.Events.OnTokenValidated += OnTokenValidatedAsync;
        jwt.Events.OnChallenge = OnChallengeAsync;
        jwt.Events.OnForbidden = context =>
            ApiTokens.ApiProblems.WriteAsync(context.HttpContext, StatusCodes.Status403Forbidden, "Forbidden.", "This access token does not allow that.");
    }

    /// <summary>
    /// A validated token: the caller becomes a hub user (found or created by object id and directory, like a person's
    /// first sign-in; a daemon's service principal too), with the role its app roles grant. A second identity carries
    /// what the hub decided, so the token's own claims stay as they were for Microsoft.Identity.Web's checks.
    /// </summary>
    private static async Task OnTokenValidatedAsync(TokenValidatedContext context)
    {
        if (context.Principal is not { } principal)
        {
            return;
        }

        if (EntraUserProvisioning.ReadEntraObject(principal) is not var (objectId, directoryId) || objectId.Length > 64 || directoryId.Length > 64)
        {
            context.Fail(MissingIdentity);
            return;
        }

        var services = context.HttpContext.RequestServices;
        var options = services.GetRequiredService<IOptions<HubAuthenticationOptions>>().Value;
        var roles = principal.FindAll(ClaimTypes.Role).Concat(principal.FindAll("roles")).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        TenantRole? role = null;
        foreach (var (appRole, hubRole) in options.ApiAppRoles)
        {
            if (roles.Contains(appRole) && (role is null || hubRole > role))
            {
                role = hubRole;
            }
        }

        // A person's delegated token has scopes and their name; an app's own (client credentials) has neither.
        var delegated = principal.HasClaim(c => c.Type is ScopeClaim or "scp");
        var application = principal.FindFirstValue("azp") ?? principal.FindFirstValue("appid") ?? "unknown";
        var name = Sanitizer.SanitizeText(delegated
            ? principal.FindFirstValue("name") ?? principal.FindFirstValue("preferred_username") ?? "Entra ID user"
            : $"Entra ID app {application}", 200);
        var user = await services.GetRequiredService<EntraUserProvisioning>()
            .FindOrCreateAsync(objectId, directoryId, name, delegated ? principal.FindFirstValue("preferred_username") : null, context.HttpContext.RequestAborted);
        if (role is null)
        {
            LogNoAppRole(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(EntraApiAuthentication)), application, string.Join(", ", options.ApiAppRoles.Keys));
        }

        var claims = new List<Claim>
        {
            new(HubClaims.UserId, user.Id.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.NameIdentifier, user.Id.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.Name, name),
            new(DirectoryClaim, directoryId),
        };
        if (role is { } granted)
        {
            claims.Add(new Claim(RoleClaim, granted.ToString()));
        }

        // First, so the hub's own name and user id are what it reads; the token's identity stays, second.
        context.Principal = new ClaimsPrincipal([new ClaimsIdentity(claims, Scheme, ClaimTypes.Name, ClaimTypes.Role), .. principal.Identities]);
    }

    private static Task OnChallengeAsync(JwtBearerChallengeContext context)
    {
        // The problem details say why, in words a script's author can act on; the header says it as RFC 6750 does.
        context.HandleResponse();
        var reason = context.AuthenticateFailure is { } failure ? Describe(failure) : null;
        context.Response.Headers.WWWAuthenticate = ApiTokens.ApiTokenClaims.Challenge + (reason is null ? "" : ", error=\"invalid_token\"");
        return ApiTokens.ApiProblems.WriteAsync(context.HttpContext, StatusCodes.Status401Unauthorized,
            reason is null ? "An access token is required." : "The access token was refused.",
            reason ?? ApiTokens.ApiTokenClaims.HowToAuthenticate);
    }

    /// <summary>Why a token was refused, without echoing the token or the validator's internals.</summary>
    internal static string Describe(Exception failure) => failure switch
    {
        SecurityTokenExpiredException => "The Entra ID access token has expired. Ask Entra ID for a new one.",
        SecurityTokenNotYetValidException => "The Entra ID access token is not valid yet (check the caller's clock).",
        SecurityTokenInvalidAudienceException => "The Entra ID access token is for another application: ask for a token with the hub's "
            + "scope (api://<the hub's client id>/.default).",
        SecurityTokenInvalidIssuerException => "The Entra ID access token was issued by an authority this hub does not trust.",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException =>
            "The Entra ID access token's signature does not verify with the authority's keys.",
        SecurityTokenMalformedException or ArgumentException => "The bearer token is not a well-formed JWT.",
        UnauthorizedAccessException => "The Entra ID access token carries neither scopes nor app roles.",
        _ when failure.Message == MissingIdentity => MissingIdentity,
        _ => "The Entra ID access token could not be validated.",
    };

    [LoggerMessage(EventId = 4010, Level = LogLevel.Information,
        Message = "Entra ID access token of app {Application} carries none of the hub's app roles ({AppRoles}); it is refused in every tenant")]
    private static partial void LogNoAppRole(ILogger logger, string application, string appRoles);
}
