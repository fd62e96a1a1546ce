using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Microsoft.Identity.Web;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.Auth;

public static class AuthenticationSetup
{
    public const string LoginPath = "/account/login";
    public const string LogoutPath = "/account/logout";

    public static IServiceCollection AddHubAuthentication(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HubAuthenticationOptions>().BindConfiguration(HubAuthenticationOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<HubAuthenticationOptions>, ValidateHubAuthenticationOptions>();
        services.AddSingleton<IPasswordHasher<HubUser>, PasswordHasher<HubUser>>();
        services.AddSingleton<LocalSignIn>();
        services.AddSingleton<HubSessions>();
        services.AddSingleton<ApiTokens.ApiTokenUsage>();
        services.AddHostedService<SignInHousekeeping>();
        // Open circuits re-ask the database whether their session is live, so a sign-out elsewhere ends them too.
        services.AddScoped<AuthenticationStateProvider, RevalidatingSessionStateProvider>();
        services.AddScoped(sp => (RevalidatingSessionStateProvider)sp.GetRequiredService<AuthenticationStateProvider>());
        services.AddSingleton<EntraUserProvisioning>();

        var mode = configuration.GetValue<AuthenticationMode?>($"{HubAuthenticationOptions.SectionName}:Mode") ?? AuthenticationMode.Local;
        var session = configuration.GetValue<TimeSpan?>($"{HubAuthenticationOptions.SectionName}:SessionLifetime") ?? TimeSpan.FromHours(8);
        if (mode == AuthenticationMode.EntraId)
        {
            services.AddAuthentication(OpenIdConnectDefaults.AuthenticationScheme)
                .AddMicrosoftIdentityWebApp(
                    identity =>
                    {
                        configuration.Bind("AzureAd", identity);
                        identity.Events ??= new OpenIdConnectEvents();
                        identity.Events.OnTokenValidated += ProvisionEntraUserAsync;
                        // API callers never meet this challenge (nor the cookie's): the API's policy names its own
                        // token scheme, whose challenge is a 401 with problem details (see RunsApi.Policy).
                    },
                    cookie => ConfigureCookie(cookie, session))
                // Token acquisition (Microsoft.Identity.Web's IAuthorizationHeaderProvider): the signed-in admin's
                // delegated token for the group search, and the app-only token for directory sync. No extra scope
                // at sign-in: the group search asks for its consent when an admin connects it (see /account/entra/consent).
                .EnableTokenAcquisitionToCallDownstreamApi()
                .AddInMemoryTokenCaches();
        }
        else
        {
            services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
                .AddCookie(cookie => ConfigureCookie(cookie, session));
        }

        // The API's schemes, never the default (pages keep the cookie): hub API tokens in both modes, and in EntraId
        // mode Entra ID access tokens for the hub's own app registration. One selector picks by the bearer's shape,
        // so a refusal comes from the scheme the caller meant, with its reason.
        var authentication = services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ApiTokens.ApiTokenAuthenticationHandler>(ApiTokens.ApiTokenClaims.Scheme, null);
        if (mode == AuthenticationMode.EntraId)
        {
            authentication.AddMicrosoftIdentityWebApi(
                EntraApiAuthentication.ConfigureEvents,
                identity => configuration.Bind("AzureAd", identity),
                EntraApiAuthentication.Scheme);
        }

        authentication.AddPolicyScheme(EntraApiAuthentication.SelectorScheme, null, selector => selector.ForwardDefaultSelector = context =>
            mode == AuthenticationMode.EntraId && ApiTokens.ApiTokenAuthenticationHandler.ReadBearer(context.Request) is { } bearer
                && EntraApiAuthentication.LooksLikeJwt(bearer)
                ? EntraApiAuthentication.Scheme
                : ApiTokens.ApiTokenClaims.Scheme);
        services.AddAuthorization(options => options.AddPolicy(Api.RunsApi.Policy, policy => policy
            .AddAuthenticationSchemes(EntraApiAuthentication.SelectorScheme)
            .RequireAuthenticatedUser()));
        services.AddCascadingAuthenticationState();
        return services;
    }

    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder endpoints)
    {
        // Sign-out is a POST with an antiforgery token, so no link or image on another site can sign anyone out.
        // Minimal APIs validate antiforgery only when they bind a form, so this one checks explicitly.
        endpoints.MapPost(LogoutPath, async (HttpContext context, IAntiforgery antiforgery) =>
        {
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return Results.Problem(
                    title: "The sign-out request was not sent by this site.",
                    detail: "Reload the page and use the Sign out button.",
                    statusCode: StatusCodes.Status400BadRequest);
            }

            // The session ends on the server first: a copy of the cookie, or another open tab, loses its power too.
            var sessions = context.RequestServices.GetRequiredService<HubSessions>();
            await sessions.EndAsync(context.User, SessionEndReason.SignedOut, CancellationToken.None);
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.LocalRedirect(LoginPath);
        });

        // Entra ID mode: the sign-in page's button lands here to start the OpenID Connect challenge.
        endpoints.MapGet("/account/entra", (string? returnUrl, IOptions<HubAuthenticationOptions> options) =>
            options.Value.Mode == AuthenticationMode.EntraId
                ? Results.Challenge(new AuthenticationProperties { RedirectUri = LocalReturnUrl.Sanitize(returnUrl) },
                    [OpenIdConnectDefaults.AuthenticationScheme])
                : Results.NotFound());
        // The group search's "Connect Microsoft Graph": a challenge asking for its delegated scopes (incremental
        // consent), reached by the user's click, never by a redirect while a page renders.
        endpoints.MapGet("/account/entra/consent", (string? returnUrl, IOptions<HubAuthenticationOptions> options,
            IOptions<Directory.GraphOptions> graph) =>
        {
            if (options.Value.Mode != AuthenticationMode.EntraId)
            {
                return Results.NotFound();
            }

            var properties = new OpenIdConnectChallengeProperties { RedirectUri = LocalReturnUrl.Sanitize(returnUrl) };
            properties.Scope = ["openid", "profile", "offline_access", .. graph.Value.DelegatedScopes];
            return Results.Challenge(properties, [OpenIdConnectDefaults.AuthenticationScheme]);
        });
        return endpoints;
    }

    private static void ConfigureCookie(CookieAuthenticationOptions cookie, TimeSpan session)
    {
        cookie.Cookie.Name = "opshub.auth";
        cookie.Cookie.HttpOnly = true;
        cookie.Cookie.SameSite = SameSiteMode.Lax;
        cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        cookie.LoginPath = LoginPath;
        cookie.LogoutPath = LogoutPath;
        cookie.ReturnUrlParameter = "returnUrl";
        cookie.ExpireTimeSpan = session;
        cookie.SlidingExpiration = true;
        // The cookie is only a pointer to a server-side session: every request asks whether that session is live.
        var validatePrincipal = cookie.Events.OnValidatePrincipal;
        cookie.Events.OnValidatePrincipal = async context =>
        {
            await validatePrincipal(context);
            if (context.Principal is not { } principal)
            {
                return;
            }

            var sessions = context.HttpContext.RequestServices.GetRequiredService<HubSessions>();
            if (await sessions.CheckAsync(principal, touch: true, context.HttpContext.RequestAborted) != SessionState.Live)
            {
                context.RejectPrincipal();
                await context.HttpContext.SignOutAsync(context.Scheme.Name);
            }
        };
        // Tenant pages answer 403 themselves, with the app's own page; nothing redirects to an access-denied URL.
        cookie.Events.OnRedirectToAccessDenied = context =>
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        };
        // People get a redirect to the sign-in page by path only: the handler builds an absolute URL from the request's Host header, which a caller
        // chooses (Host: evil.example would send the browser to evil.example's "sign-in page").
        cookie.Events.OnRedirectToLogin = context =>
        {
            context.Response.Redirect(PathOnly(context.RedirectUri));
            return Task.CompletedTask;
        };
    }

    /// <summary>The path, query and fragment of <paramref name="redirectUri"/>, whatever host it names.</summary>
    internal static string PathOnly(string redirectUri) =>
        Uri.TryCreate(redirectUri, UriKind.Absolute, out var absolute) ? absolute.PathAndQuery + absolute.Fragment : redirectUri;

    private static async Task ProvisionEntraUserAsync(TokenValidatedContext context)
    {
        var provisioning = context.HttpContext.RequestServices.GetRequiredService<EntraUserProvisioning>();
        if (context.Principal is null || !await provisioning.ProvisionAsync(context.Principal, context.HttpContext.RequestAborted))
        {
            context.Fail("The Entra ID token has no object id or tenant id.");
        }
    }
}
