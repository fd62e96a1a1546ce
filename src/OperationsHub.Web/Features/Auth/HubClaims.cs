using System.Globalization;
using System.Security.Claims;

namespace OperationsHub.Web.Features.Auth;

public static class HubClaims
{
    /// <summary>The hub's own user id, present on every signed-in principal whatever the sign-in mode.</summary>
    public const string UserId = "hub_user_id";

    /// <summary>The token of the server-side session this principal belongs to (see <see cref="HubSessions"/>).</summary>
    public const string SessionId = "hub_session";

    /// <summary>Entra ID's group membership claim: one object id per group (ID tokens with groupMembershipClaims set).</summary>
    public const string Groups = "groups";

    /// <summary>The most group ids read from a token: beyond Entra's own limit (200 in a JWT) it sends an overage claim.</summary>
    public const int MaxGroups = 250;

    /// <summary>
    /// The Entra group object ids of a signed-in user, from the token's <c>groups</c> claims (kept in the protected
    /// sign-in cookie). Empty for local sign-ins, which belong to no directory group.
    /// </summary>
    public static IReadOnlyList<string> GetDirectoryGroupIds(this ClaimsPrincipal principal) =>
        principal.FindAll(Groups).Select(c => c.Value).Where(v => v.Length is > 0 and <= 64).Distinct(StringComparer.Ordinal)
            .Take(MaxGroups).ToList();

    /// <summary>True when the token said the user is in too many groups to list (the <c>_claim_names</c> overage).</summary>
    public static bool HasGroupsOverage(this ClaimsPrincipal principal) =>
        principal.FindFirst("_claim_names")?.Value.Contains("\"groups\"", StringComparison.Ordinal) == true
        || principal.HasClaim(c => c.Type is "hasgroups" or "groups:src1");

    public static long? GetHubUserId(this ClaimsPrincipal principal) =>
        long.TryParse(principal.FindFirstValue(UserId), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    public static string GetDisplayName(this ClaimsPrincipal principal) =>
        principal.FindFirstValue(ClaimTypes.Name) ?? principal.FindFirstValue("name") ?? "Signed-in user";

    public static ClaimsIdentity CreateIdentity(long userId, string displayName, string? email, string sessionToken, string authenticationType)
    {
        var claims = new List<Claim>
        {
            new(UserId, userId.ToString(CultureInfo.InvariantCulture)),
            new(SessionId, sessionToken),
            new(ClaimTypes.NameIdentifier, userId.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.Name, displayName),
        };
        if (!string.IsNullOrEmpty(email))
        {
            claims.Add(new Claim(ClaimTypes.Email, email));
        }

        return new ClaimsIdentity(claims, authenticationType, ClaimTypes.Name, ClaimTypes.Role);
    }
}

public static class LocalReturnUrl
{
    /// <summary>
    /// Only a path on this site is honoured: "/x" but not "//evil", "/\evil", "http://evil" or anything with control
    /// characters. Anything else becomes "/", so a crafted sign-in link can never send the user elsewhere.
    /// </summary>
    public static string Sanitize(string? returnUrl)
    {
        if (string.IsNullOrEmpty(returnUrl) || returnUrl.Length > 2048 || returnUrl[0] != '/')
        {
            return "/";
        }

        if (returnUrl.Length > 1 && (returnUrl[1] == '/' || returnUrl[1] == '\\'))
        {
            return "/";
        }

        foreach (var c in returnUrl)
        {
            if (char.IsControl(c) || c == '\\')
            {
                return "/";
            }
        }

        return returnUrl;
    }
}
