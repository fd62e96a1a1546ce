using Microsoft.Extensions.Options;
using OperationsHub.Core.ExternalDirectory;
using OperationsHub.Web.Features.Auth;

namespace OperationsHub.Web.Features.Directory;

public static class DirectorySetup
{
    /// <summary>
    /// The directory: the cache's pages, the delegated group search, and where directory sync reads from
    /// (<c>Graph:DirectorySource</c>: the built-in demo directory by default, Microsoft Graph when set to <c>Graph</c>).
    /// Call before <c>AddSampleOperations</c>, which falls back to the built-in directory.
    /// </summary>
    public static IServiceCollection AddHubDirectory(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<GraphOptions>().BindConfiguration(GraphOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<GraphOptions>, ValidateGraphOptions>();
        services.AddHttpClient(DelegatedGroupSearch.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(20));
        // Scoped: Microsoft.Identity.Web's token acquisition is scoped (one per request or Blazor circuit).
        services.AddScoped<DelegatedGroupSearch>();
        services.AddSingleton<DirectoryQueries>();
        services.AddSingleton<AccessCommands>();
        if (configuration.GetValue<DirectorySource?>($"{GraphOptions.SectionName}:{nameof(GraphOptions.DirectorySource)}") == DirectorySource.Graph)
        {
            services.AddHttpClient<GraphDirectoryClient>(c => c.Timeout = TimeSpan.FromSeconds(100));
            // Scoped like the token acquisition it uses; each directory sync run resolves it in its own scope.
            services.AddScoped<IDirectoryClient>(sp => sp.GetRequiredService<GraphDirectoryClient>());
        }

        return services;
    }
}

internal sealed class ValidateGraphOptions(IConfiguration configuration) : IValidateOptions<GraphOptions>
{
    public ValidateOptionsResult Validate(string? name, GraphOptions options)
    {
        var failures = new List<string>();
        if (!options.BaseUrl.IsAbsoluteUri || options.BaseUrl.Scheme is not ("https" or "http"))
        {
            failures.Add("Graph:BaseUrl must be an absolute http(s) URL, for example https://graph.microsoft.com/v1.0.");
        }

        if (options.DirectorySource == DirectorySource.Graph
            && configuration.GetValue<AuthenticationMode?>($"{HubAuthenticationOptions.SectionName}:Mode") != AuthenticationMode.EntraId)
        {
            failures.Add("Graph:DirectorySource=Graph needs Authentication:Mode=EntraId: the app registration of the AzureAd section " +
                "gets the app-only tokens directory sync uses.");
        }

        if (options.MaxThrottleRetries is < 0 or > 50 || options.MaxRetryAfter < TimeSpan.Zero)
        {
            failures.Add("Graph:MaxThrottleRetries must be between 0 and 50, and Graph:MaxRetryAfter not negative.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
