using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;
using OperationsHub.Web.Features.Auth;

namespace OperationsHub.Web.Features.ApiTokens;

/// <summary>What an API token's principal carries: which token, which tenant, and the role it acts with on this request.</summary>
public sealed record ApiTokenGrant(long TokenId, long TenantId, TenantRole Role);

public static class ApiTokenClaims
{
    public const string Scheme = "ApiToken";

    public const string TokenId = "hub_api_token";
    public const string TenantId = "hub_api_tenant";
    public const string Role = "hub_api_role";

    /// <summary>The grant of a principal the API token handler made on this request; null for people and other schemes.</summary>
    public static ApiTokenGrant? GetApiTokenGrant(this ClaimsPrincipal principal)
    {
        var identity = principal.Identities.FirstOrDefault(i => i.IsAuthenticated && i.AuthenticationType == Scheme);
        return identity is not null
            && long.TryParse(identity.FindFirst(TokenId)?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var token)
            && long.TryParse(identity.FindFirst(TenantId)?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var tenant)
            && Enum.TryParse<TenantRole>(identity.FindFirst(Role)?.Value, out var role)
            ? new ApiTokenGrant(token, tenant, role)
            : null;
    }

    /// <summary>What a 401 from the API asks for (RFC 9110 requires the header): a bearer token (RFC 6750).</summary>
    public const string Challenge = "Bearer realm=\"OperationsHub\"";

    /// <summary>What a caller without a usable token is told to send.</summary>
    public const string HowToAuthenticate = "Send an API token (Authorization: Bearer opshub_…), created on the tenant's API tokens page; "
        + "when the hub signs in with Entra ID, an Entra ID access token for the hub's API is taken too.";

    /// <summary>How a run started with a token names its initiator: the token, and the person it belongs to.</summary>
    public static string InitiatorName(string tokenName, string creatorName) => $"API token '{tokenName}' of {creatorName}";
}

/// <summary>
/// <c>Authorization: Bearer opshub_…</c>: looks the token up by its hash on every request (so a revocation takes effect
/// at once), refuses one that is unknown, revoked or expired, and signs the request in as the token's creator with the
/// token's role, capped by the creator's own role in the tenant now (a creator who lost the tenant takes the token
/// with them). Entra ID access tokens (JWTs) go to their own scheme in EntraId mode and are refused here otherwise.
/// </summary>
public sealed class ApiTokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IDbContextFactory<HubDbContext> dbFactory, ApiTokenUsage usage, TimeProvider time)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private string? _failure;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (ReadBearer(Request) is not { } presented)
        {
            return AuthenticateResult.NoResult();
        }

        if (!ApiTokenSecrets.IsWellFormed(presented))
        {
            // In EntraId mode a JWT never comes here (the API's selector sends it to the Entra ID scheme).
            if (EntraApiAuthentication.LooksLikeJwt(presented))
            {
                return Fail("This hub takes Entra ID access tokens only in Entra ID sign-in mode (Authentication:Mode=EntraId). Send a hub API token (opshub_…).");
            }

            return Fail("The bearer token is not a hub API token (they start with \"opshub_\") or an Entra ID access token.");
        }

        var hash = ApiTokenSecrets.Hash(presented);
        await using var db = await dbFactory.CreateDbContextAsync(Context.RequestAborted);
        var row = await db.ApiTokens.AsNoTracking()
            .Where(t => t.SecretHash == hash)
            .Select(t => new
            {
                t.Id,
                t.TenantId,
                t.Name,
                t.Role,
                t.ExpiresAt,
                t.RevokedAt,
                t.CreatedByUserId,
                CreatorName = db.Users.Where(u => u.Id == t.CreatedByUserId).Select(u => u.DisplayName).FirstOrDefault(),
                CreatorRole = db.Memberships.Where(m => m.TenantId == t.TenantId && m.UserId == t.CreatedByUserId)
                    .Select(m => (TenantRole?)m.Role).FirstOrDefault(),
            })
            .SingleOrDefaultAsync(Context.RequestAborted);
        var now = time.GetUtcNow().UtcDateTime;
        if (row is null)
        {
            return Fail("The API token is not known to this hub. Check that it was copied whole, or create a new one.");
        }

        if (row.RevokedAt is not null)
        {
            return Fail("The API token was revoked. Create a new one on the tenant's API tokens page.");
        }

        if (row.ExpiresAt <= now)
        {
            return Fail($"The API token expired on {row.ExpiresAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC. Create a new one.");
        }

        if (row.CreatorRole is not { } creatorRole)
        {
            return Fail("The person who created this API token no longer has a role in its tenant, so the token has none either.");
        }

        // Written by the housekeeping a few seconds later, so a busy script costs one write per flush, not per call.
        usage.Record(row.Id, now);

        var role = row.Role < creatorRole ? row.Role : creatorRole;
        var identity = new ClaimsIdentity(
            [
                new Claim(HubClaims.UserId, row.CreatedByUserId.ToString(CultureInfo.InvariantCulture)),
                new Claim(ClaimTypes.NameIdentifier, row.CreatedByUserId.ToString(CultureInfo.InvariantCulture)),
                new Claim(ClaimTypes.Name, ApiTokenClaims.InitiatorName(row.Name, row.CreatorName ?? "a deleted user")),
                new Claim(ApiTokenClaims.TokenId, row.Id.ToString(CultureInfo.InvariantCulture)),
                new Claim(ApiTokenClaims.TenantId, row.TenantId.ToString(CultureInfo.InvariantCulture)),
                new Claim(ApiTokenClaims.Role, role.ToString()),
            ],
            ApiTokenClaims.Scheme, ClaimTypes.Name, ClaimTypes.Role);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var detail = _failure
            ?? (Request.Cookies.ContainsKey("opshub.auth")
                ? "The API does not take the browser's sign-in cookie (a browser sends it on its own, so another site could make "
                  + "calls in your name). Send an API token: Authorization: Bearer opshub_…"
                : ApiTokenClaims.HowToAuthenticate);
        var error = _failure is null ? "" : ", error=\"invalid_token\"";
        Response.Headers.WWWAuthenticate = ApiTokenClaims.Challenge + error;
        return ApiProblems.WriteAsync(Context, StatusCodes.Status401Unauthorized,
            _failure is null ? "An API token is required." : "The API token was refused.", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ApiProblems.WriteAsync(Context, StatusCodes.Status403Forbidden, "Forbidden.", "This API token does not allow that.");

    private AuthenticateResult Fail(string reason)
    {
        _failure = reason;
        return AuthenticateResult.Fail(reason);
    }

    /// <summary>The value of an <c>Authorization: Bearer</c> header, or null.</summary>
    internal static string? ReadBearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string bearer = "Bearer ";
        return header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) && header.Length > bearer.Length
            ? header[bearer.Length..].Trim()
            : null;
    }
}

/// <summary>API refusals as RFC 7807 problem details, the same shape as the API's own answers.</summary>
public static class ApiProblems
{
    public static Task WriteAsync(HttpContext context, int status, string title, string? detail)
    {
        context.Response.StatusCode = status;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail },
        }).AsTask();
    }
}
