using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
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
                        // API callers get a status, never a redirect to the identity provider.
                        identity.Events.OnRedirectToIdentityProvider += context =>
                        {
                            if (context.Request.Path.StartsWithSegments("/api"))
                            {
                                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                                context.HandleResponse();
                            }

                            return Task.CompletedTask;
                        };
                    },
                    cookie => ConfigureCookie(cookie, session));
        }
        else
        {
            services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
                .AddCookie(cookie => ConfigureCookie(cookie, session));
        }

        services.AddAuthorization();
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

            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.LocalRedirect(LoginPath);
        });

        // Entra ID mode: the sign-in page's button lands here to start the OpenID Connect challenge.
        endpoints.MapGet("/account/entra", (string? returnUrl, IOptions<HubAuthenticationOptions> options) =>
            options.Value.Mode == AuthenticationMode.EntraId
                ? Results.Challenge(new AuthenticationProperties { RedirectUri = LocalReturnUrl.Sanitize(returnUrl) },
                    [OpenIdConnectDefaults.AuthenticationScheme])
                : Results.NotFound());
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
        // Tenant pages answer 403 themselves, with the app's own page; nothing redirects to an access-denied URL.
        cookie.Events.OnRedirectToAccessDenied = context =>
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        };
        // API callers get a status, never a sign-in page.
        cookie.Events.OnRedirectToLogin = context =>
        {
            if (context.Request.Path.StartsWithSegments("/api"))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            }
            else
            {
                context.Response.Redirect(context.RedirectUri);
            }

            return Task.CompletedTask;
        };
    }

    private static async Task ProvisionEntraUserAsync(TokenValidatedContext context)
    {
        var provisioning = context.HttpContext.RequestServices.GetRequiredService<EntraUserProvisioning>();
        if (context.Principal is null || !await provisioning.ProvisionAsync(context.Principal, context.HttpContext.RequestAborted))
        {
            context.Fail("The Entra ID token has no object id or tenant id.");
        }
    }
}
