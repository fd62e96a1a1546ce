using Microsoft.Extensions.Options;

namespace OperationsHub.Web.Features.Auth;

public enum AuthenticationMode
{
    /// <summary>Users and password hashes in the hub's own database; a cookie after sign-in. The embedded default.</summary>
    Local,

    /// <summary>Microsoft Entra ID through Microsoft.Identity.Web (OpenID Connect), configured by the <c>AzureAd</c> section.</summary>
    EntraId,
}

public sealed class HubAuthenticationOptions
{
    public const string SectionName = "Authentication";

    public AuthenticationMode Mode { get; set; } = AuthenticationMode.Local;

    /// <summary>Failed local sign-ins in a row before the account is locked.</summary>
    public int MaxFailedAttempts { get; set; } = 5;

    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a sign-in lasts without activity (sliding; an open page counts as activity).</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>How long a sign-in lasts at most, however active: then the user signs in again.</summary>
    public TimeSpan SessionMaxLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often an open page checks that its session is still live (sign-out elsewhere, lockout, expiry).</summary>
    public TimeSpan SessionRevalidationInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// EntraId mode: the app roles of the hub's API registration (the <c>roles</c> claim of an access token) and the
    /// hub role each grants, in the tenants linked to the token's directory. Configuration adds to (or re-maps) the
    /// defaults; the highest role a token carries applies.
    /// </summary>
    public Dictionary<string, Core.Domain.TenantRole> ApiAppRoles { get; set; } =
        new(EntraApiAuthentication.DefaultAppRoles, StringComparer.Ordinal);
}

internal sealed class ValidateHubAuthenticationOptions(Microsoft.Extensions.Configuration.IConfiguration configuration)
    : IValidateOptions<HubAuthenticationOptions>
{
    public ValidateOptionsResult Validate(string? name, HubAuthenticationOptions options)
    {
        var failures = new List<string>();
        if (options.MaxFailedAttempts < 1)
        {
            failures.Add("Authentication:MaxFailedAttempts must be at least 1.");
        }

        if (options.LockoutDuration <= TimeSpan.Zero || options.SessionLifetime <= TimeSpan.Zero)
        {
            failures.Add("Authentication:LockoutDuration and Authentication:SessionLifetime must be positive.");
        }

        if (options.SessionMaxLifetime < options.SessionLifetime)
        {
            failures.Add("Authentication:SessionMaxLifetime must be at least Authentication:SessionLifetime.");
        }

        if (options.SessionRevalidationInterval < TimeSpan.FromMilliseconds(100) || options.SessionRevalidationInterval > TimeSpan.FromMinutes(5))
        {
            failures.Add("Authentication:SessionRevalidationInterval must be between 100 ms and 5 minutes.");
        }

        if (options.Mode == AuthenticationMode.EntraId)
        {
            foreach (var key in new[] { "Instance", "TenantId", "ClientId" })
            {
                if (string.IsNullOrWhiteSpace(configuration[$"AzureAd:{key}"]))
                {
                    failures.Add($"Authentication:Mode is EntraId, so AzureAd:{key} is required.");
                }
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
