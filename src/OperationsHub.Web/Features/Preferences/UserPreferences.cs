using Microsoft.EntityFrameworkCore;
using OperationsHub.Core.Data;
using OperationsHub.Core.Domain;

namespace OperationsHub.Web.Features.Preferences;

/// <summary>Per-user settings that follow the user to every browser: today, the theme.</summary>
public sealed class UserPreferences(IDbContextFactory<HubDbContext> dbFactory)
{
    public async Task<ThemePreference> GetThemeAsync(long userId, CancellationToken cancellationToken)
    {
        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        return await db.Users.AsNoTracking().Where(u => u.Id == userId).Select(u => u.Theme).FirstOrDefaultAsync(cancellationToken);
    }

    public async Task SetThemeAsync(long userId, ThemePreference theme, CancellationToken cancellationToken)
    {
        if (!Enum.IsDefined(theme))
        {
            throw new ArgumentOutOfRangeException(nameof(theme));
        }

        await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
        await db.Users.Where(u => u.Id == userId).ExecuteUpdateAsync(s => s.SetProperty(u => u.Theme, theme), cancellationToken);
    }
}
