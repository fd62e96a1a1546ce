using System.Security.Claims;
using Microsoft.Identity.Abstractions;
using Microsoft.Identity.Client;
using Microsoft.Identity.Web;

namespace OperationsHub.IntegrationTests.DirectoryFeature;

/// <summary>
/// Stands in for Microsoft.Identity.Web's token acquisition, which cannot run here: MSAL will not talk to an http
/// loopback authority, and a test must not reach the real one. It answers the way the real provider's callers see
/// it: an app-only header for the directory asked for, a delegated header for a signed-in Entra user, and the
/// challenge exception the real one throws when the user has not consented. The headers name who they are for, so a
/// test can tell from Graph's side which identity a request carried.
/// </summary>
public sealed class FakeAuthorizationHeaderProvider : IAuthorizationHeaderProvider
{
    /// <summary>A principal with this claim (any value) has not consented to the delegated scopes.</summary>
    public const string NoConsentClaim = "test_no_consent";

    private const string ObjectIdClaim = "http://schemas.microsoft.com/identity/claims/objectidentifier";

    private readonly Lock _gate = new();
    private readonly List<AppTokenRequest> _app = [];
    private readonly List<UserTokenRequest> _user = [];

    public sealed record AppTokenRequest(string Scope, string? Tenant);

    public sealed record UserTokenRequest(IReadOnlyList<string> Scopes, string? ObjectId, bool Granted);

    public IReadOnlyList<AppTokenRequest> AppRequests
    {
        get
        {
            lock (_gate)
            {
                return [.. _app];
            }
        }
    }

    public IReadOnlyList<UserTokenRequest> UserRequests
    {
        get
        {
            lock (_gate)
            {
                return [.. _user];
            }
        }
    }

    /// <summary>An Entra sign-in as the group search sees it: the hub's claims plus the user's object and tenant ids.</summary>
    public static ClaimsPrincipal EntraUser(ClaimsPrincipal hubPrincipal, string objectId, string directoryId, bool consented = true)
    {
        var identity = new ClaimsIdentity(hubPrincipal.Claims, hubPrincipal.Identity?.AuthenticationType ?? "Test");
        identity.AddClaim(new Claim("oid", objectId));
        identity.AddClaim(new Claim("tid", directoryId));
        if (!consented)
        {
            identity.AddClaim(new Claim(NoConsentClaim, "true"));
        }

        return new ClaimsPrincipal(identity);
    }

    public Task<string> CreateAuthorizationHeaderForAppAsync(
        string scopes, AuthorizationHeaderProviderOptions? downstreamApiOptions = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var tenant = downstreamApiOptions?.AcquireTokenOptions?.Tenant;
        lock (_gate)
        {
            _app.Add(new AppTokenRequest(scopes, tenant));
        }

        return Task.FromResult($"Bearer app-{tenant}");
    }

    public Task<string> CreateAuthorizationHeaderForUserAsync(
        IEnumerable<string> scopes,
        AuthorizationHeaderProviderOptions? authorizationHeaderProviderOptions = null,
        ClaimsPrincipal? claimsPrincipal = null,
        CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var asked = scopes.ToArray();
        var objectId = claimsPrincipal?.FindFirst(ObjectIdClaim)?.Value ?? claimsPrincipal?.FindFirst("oid")?.Value;
        var granted = objectId is not null && claimsPrincipal?.HasClaim(c => c.Type == NoConsentClaim) != true;
        lock (_gate)
        {
            _user.Add(new UserTokenRequest(asked, objectId, granted));
        }

        // What Microsoft.Identity.Web throws when MSAL has no token it can get silently (no consent, no account).
        return granted
            ? Task.FromResult($"Bearer delegated-{objectId}")
            : throw new MicrosoftIdentityWebChallengeUserException(
                new MsalUiRequiredException("consent_required", "The user has not consented to the scopes asked for."), asked, null);
    }

    public Task<string> CreateAuthorizationHeaderAsync(
        IEnumerable<string> scopes,
        AuthorizationHeaderProviderOptions? options = null,
        ClaimsPrincipal? claimsPrincipal = null,
        CancellationToken cancellationToken = default) =>
        options?.RequestAppToken == true
            ? CreateAuthorizationHeaderForAppAsync(scopes.Single(), options, cancellationToken)
            : CreateAuthorizationHeaderForUserAsync(scopes, options, claimsPrincipal, cancellationToken);
}
