<?php

declare(strict_types=1);

namespace MqttBroadcast\Tests;

use PHPUnit\Framework\TestCase;

/**
 * composer.json, the PIE manifest, names the extension that is loaded, and
 * declares the PHP build it runs on here as supported. (PeclInstallTest runs
 * the phpize build PIE runs.)
 */
final class PackageManifestTest extends TestCase
{
    private const ROOT = __DIR__ . '/../..';

    public function testComposerJsonDeclaresThisExtensionForPie(): void
    {
        $manifest = json_decode((string) file_get_contents(self::ROOT . '/composer.json'), true, 512, JSON_THROW_ON_ERROR);

        self::assertSame('php-ext', $manifest['type']);
        self::assertSame((new \ReflectionExtension('mqtt_broadcast'))->getName(), $manifest['php-ext']['extension-name']);
        self::assertSame('>=8.1', $manifest['require']['php']);
        $mode = PHP_ZTS ? 'support-zts' : 'support-nts';
        self::assertTrue($manifest['php-ext'][$mode] ?? true, "the tests run on this PHP, yet composer.json says $mode: false");
    }
}
