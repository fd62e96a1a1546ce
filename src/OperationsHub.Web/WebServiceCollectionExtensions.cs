using Microsoft.Extensions.FileProviders;
using MudBlazor.Services;
using OperationsHub.Web.Features.Operations;
using OperationsHub.Web.Features.Preferences;
using OperationsHub.Web.Features.Tenants;

namespace OperationsHub.Web;

internal static class WebServiceCollectionExtensions
{
    /// <summary>The Blazor hub: components, MudBlazor, and the screen-shaped services the pages use.</summary>
    public static IServiceCollection AddHubWeb(this IServiceCollection services)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        // Toasts at the bottom right, clear of the app bar and the notification panel.
        services.AddMudServices(options => options.SnackbarConfiguration.PositionClass = MudBlazor.Defaults.Classes.Position.BottomLeft);
        services.AddHttpContextAccessor();
        services.AddProblemDetails();
        services.AddSingleton<TenantAccess>();
        services.AddSingleton<RunQueries>();
        services.AddSingleton<RunsGridQuery>();
        services.AddSingleton<Features.Notifications.NotificationQueries>();
        services.AddSingleton<Features.StartSurfaces.OperationCardQueries>();
        services.AddScoped<Features.Live.CircuitConnection>();
        services.AddSingleton<Features.Live.SharedReads>();
        services.AddScoped<Microsoft.AspNetCore.Components.Server.Circuits.CircuitHandler, Features.Live.CircuitConnectionHandler>();
        services.AddSingleton<RunCommands>();
        services.AddSingleton<BulkCommands>();
        services.AddSingleton<RunLogQueries>();
        services.AddSingleton<UserPreferences>();
        services.AddSingleton<Components.Layout.ThemeStylesheet>();
        services.AddSingleton<Features.ApiTokens.ApiTokenCommands>();
        services.AddSingleton<Features.Webhooks.WebhookCommands>();
        Features.Api.ApiDocument.AddHubOpenApi(services);
        return services;
    }

    /// <summary>Serves the brand files (logo, favicon, CSS) kept in the repository's wwwroot-assets folder under /brand.</summary>
    public static IApplicationBuilder UseBrandAssets(this IApplicationBuilder app)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "wwwroot-assets");
        return app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(folder),
            RequestPath = "/brand",
        });
    }
}
