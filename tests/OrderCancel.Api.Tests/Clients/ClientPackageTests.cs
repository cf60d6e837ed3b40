using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using OrderCancel.Api.Tests.Infrastructure;

namespace OrderCancel.Api.Tests;

/// <summary>
/// <c>dotnet pack</c> makes the C# library's package (not published): both target frameworks, its README, and no
/// dependency beyond Kiota's runtime and <c>Microsoft.Extensions.Http</c>.
/// </summary>
public sealed class ClientPackageTests
{
    [Fact]
    public async Task Dotnet_pack_makes_the_client_package_for_net8_and_net10_with_its_readme_and_only_its_runtime_dependencies()
    {
        var output = Directory.CreateTempSubdirectory("ordercancel-pack-");
        try
        {
            var (exitCode, said) = await ProcessOutput.RunToExitAsync(
                new ProcessStartInfo("dotnet", ["pack", Path.Combine(RepositoryRoot.Path, "clients", "dotnet", "OrderCancel.Client"), "-c", "Release", "-o", output.FullName]),
                TimeSpan.FromMinutes(5));
            Assert.True(exitCode == 0, $"dotnet pack failed ({exitCode}):\n{said}");

            var package = Assert.Single(output.GetFiles("OrderCancel.Client.*.nupkg"));
            using var zip = ZipFile.OpenRead(package.FullName);
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("lib/net8.0/OrderCancel.Client.dll", entries);
            Assert.Contains("lib/net10.0/OrderCancel.Client.dll", entries);
            Assert.Contains("README.md", entries);

            await using var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
            var dependencies = XDocument.Load(nuspec).Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).ToHashSet();
            Assert.NotEmpty(dependencies);
            Assert.All(dependencies, id => Assert.True(id.StartsWith("Microsoft.Kiota.", StringComparison.Ordinal) || id == "Microsoft.Extensions.Http", $"{id} is a dependency."));
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }
}
