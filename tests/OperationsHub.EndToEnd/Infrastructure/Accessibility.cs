using Deque.AxeCore.Commons;
using Microsoft.Playwright;

namespace OperationsHub.EndToEnd.Infrastructure;

/// <summary>The axe check every page's browser test ends with, and the theme switch it is checked in.</summary>
public static class Accessibility
{
    /// <summary>Writes every violation next to the screenshots, and fails on the serious and critical ones.</summary>
    public static void AssertNoSeriousViolations(AxeResult result, string pageName, string scheme)
    {
        File.WriteAllText(Path.Combine(HubServer.ScreenshotDirectory, $"axe-{pageName.Replace(' ', '-')}-{scheme}.txt"), string.Join("\n", result.Violations.Select(v => $"{v.Id} ({v.Impact}): {string.Join(" | ", v.Nodes.Select(n => n.Html))}")));
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical")
            .Select(v => $"{v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Take(3).Select(n => n.Target.ToString()))}")
            .ToList();
        serious.Should().BeEmpty($"the {pageName} page in {scheme} mode must have no serious or critical axe violations");
    }

    /// <summary>Picks the theme from the app bar's menu, as a user would.</summary>
    public static async Task SetThemeAsync(IPage page, string scheme)
    {
        await page.ClickAsync("[data-testid='theme-menu'] button");
        await page.ClickAsync($"[data-theme='{(scheme == "dark" ? "Dark" : "Light")}']");
        await page.Keyboard.PressAsync("Escape");
    }
}
