using System.Xml;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;

namespace OperationsHub.Web.Features.Security;

/// <summary>
/// The Data Protection key ring (what protects sign-in cookies, antiforgery tokens and circuit state) lives in the hub's
/// database, under one application name: every node on the database protects and unprotects with the same keys, so a
/// cookie or a form one node issued works on the next request to another. Keys on a node's disk (the default,
/// <c>~/.aspnet/DataProtection-Keys</c>) would sign everyone out whenever a load balancer moved them, and on one node
/// would be lost with its container.
/// </summary>
public static class DataProtectionKeyRing
{
    /// <summary>The discriminator every node shares (the default is the content root path, which differs per install).</summary>
    public const string ApplicationName = "OperationsHub";

    public static IServiceCollection AddHubDataProtection(this IServiceCollection services)
    {
        services.AddDataProtection().SetApplicationName(ApplicationName);
        services.AddOptions<KeyManagementOptions>()
            .Configure<IDbContextFactory<HubDbContext>, ILoggerFactory>((options, factory, logging) =>
                options.XmlRepository = new DatabaseXmlRepository(factory, logging.CreateLogger<DatabaseXmlRepository>()));
        return services;
    }
}

/// <summary>
/// Key XML as rows of <c>data_protection_keys</c> (the table of Microsoft.AspNetCore.DataProtection.EntityFrameworkCore),
/// read and written through the hub's pooled context factory: the package's own repository resolves a scoped context,
/// which the hub deliberately does not register (a scoped context in a Blazor circuit lives as long as the circuit).
/// </summary>
internal sealed partial class DatabaseXmlRepository(IDbContextFactory<HubDbContext> factory, ILogger<DatabaseXmlRepository> logger) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var db = factory.CreateDbContext();
        var rows = db.DataProtectionKeys.AsNoTracking().OrderBy(k => k.Id).Select(k => new { k.Id, k.Xml }).ToList();
        var elements = new List<XElement>(rows.Count);
        foreach (var row in rows)
        {
            if (string.IsNullOrWhiteSpace(row.Xml))
            {
                continue;
            }

            try
            {
                elements.Add(XElement.Parse(row.Xml));
            }
            catch (XmlException ex)
            {
                // One damaged row must not take the whole key ring (and every sign-in) with it.
                LogUnreadableKey(logger, ex, row.Id);
            }
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        ArgumentNullException.ThrowIfNull(element);
        using var db = factory.CreateDbContext();
        db.DataProtectionKeys.Add(new DataProtectionKey
        {
            FriendlyName = friendlyName,
            Xml = element.ToString(SaveOptions.DisableFormatting),
        });
        db.SaveChanges();
    }

    [LoggerMessage(EventId = 1901, Level = LogLevel.Error, Message = "Data Protection key row {RowId} is not valid XML; it is skipped")]
    private static partial void LogUnreadableKey(ILogger logger, Exception exception, int rowId);
}
