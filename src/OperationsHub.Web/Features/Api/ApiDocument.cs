using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace OperationsHub.Web.Features.Api;

/// <summary>
/// The API's OpenAPI document at <c>/openapi/v1.json</c> (ASP.NET Core's built-in generator): the <c>/api</c> endpoints
/// only, with the bearer scheme they take. A test calls every endpoint for every status code the document lists.
/// </summary>
internal static class ApiDocument
{
    public const string Path = "/openapi/v1.json";

    private const string BearerScheme = "bearer";

    public static IServiceCollection AddHubOpenApi(this IServiceCollection services) => services.AddOpenApi(options =>
    {
        options.ShouldInclude = description => description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true;
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "OperationsHub API",
                Version = "v1",
                Description = "Start, watch and cancel a tenant's operation runs. Authenticate with a hub API token "
                    + "(Authorization: Bearer opshub_…), created by a tenant's Owner or Manager on its API tokens page, or, when "
                    + "the hub signs in with Entra ID, with an Entra ID access token for the hub's app registration carrying one "
                    + "of its app roles (OperationsHub.Reader, OperationsHub.Operator, OperationsHub.Manager).",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "A hub API token (opshub_…), or in Entra ID mode an access token for the hub's API registration.",
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }];
            return Task.CompletedTask;
        });
    });
}
