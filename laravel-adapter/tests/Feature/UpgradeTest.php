<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use MqttBroadcast\Laravel\Tests\TestCase;

/**
 * An application written for enzolarosa/mqtt-broadcast (tests/upgrade-app):
 * the config file its README shows, verbatim, the listener class, the
 * Event::listen() closure and the publishing calls of its README, with its imports. The test
 * swaps the package and the imports, nothing else, and runs it as the README
 * does: publish the migrations, migrate, start the daemon, publish, terminate.
 */
final class UpgradeTest extends TestCase
{
    private const SOURCE = __DIR__ . '/../upgrade-app';

    public function test_an_application_of_the_pure_php_package_runs_unchanged_after_swapping_the_imports(): void
    {
        $this->installApplication();
        $artisan = "{$this->appDir}/artisan";
        $prefix = $this->topic('myapp') . '/';
        // What the application's .env holds: the broker, a prefix, and its queue and database.
        $env = ['APP_ENV' => 'local', 'MQTT_PREFIX' => $prefix];

        foreach ([['vendor:publish', '--tag=mqtt-broadcast-migrations'], ['migrate', '--force'], ['vendor:publish', '--tag=mqtt-broadcast-config']] as $command) {
            $result = $this->artisan($command, $env, artisan: $artisan);
            self::assertSame(0, $result->exitCode, implode(' ', $command) . "\n" . $result->describe());
        }

        $daemon = $this->startDaemon($env, [], $artisan);
        $deadline = microtime(true) + 15.0;
        while (!str_contains($daemon->output(), "Topic: {$prefix}probe")) {
            self::assertLessThan($deadline, microtime(true), "the daemon's listener never got a probe\n" . $daemon->describe());
            static::broker()->mosquittoPub("{$prefix}probe", 'probe', 1);
            usleep(200_000);
        }
        $listener = $this->listen("{$prefix}#");

        $publish = $this->artisan(['readme:publish'], $env, artisan: $artisan);
        self::assertSame(0, $publish->exitCode, $publish->describe());

        $expected = [
            ['sensors/temperature', '25.5'],
            ['important/data', 'important'],
            ['home/livingroom/temperature', '{"value":22.5,"unit":"celsius"}'],
            ['home/kitchen/temperature', '21.0'],
            ['urgent/alert', 'System down!'],
            ['logs/info', 'message'],
            ['sensors/data', 'message'],
            ['financial/transaction', 'message'],
        ];
        $withPrefix = array_map(static fn (array $m) => [$prefix . $m[0], $m[1]], $expected);
        self::assertSameMultiset(array_map('json_encode', $withPrefix), array_map('json_encode', $listener->waitFor(count($expected))));

        // The README's closure echoes each message; its listener class logs the topics it does not know.
        $deadline = microtime(true) + 15.0;
        while (!str_contains($daemon->output(), "Topic: {$prefix}financial/transaction")) {
            self::assertLessThan($deadline, microtime(true), $daemon->describe());
            usleep(50_000);
        }
        self::assertStringContainsString("Topic: {$prefix}home/livingroom/temperature\nMessage: {\"value\":22.5,\"unit\":\"celsius\"}\nBroker: default\n", $daemon->output());
        self::assertStringContainsString('local.INFO: Unknown MQTT topic {"topic":"' . $prefix . 'urgent/alert"}', $this->laravelLog());

        $terminate = $this->artisan(['mqtt-broadcast:terminate'], $env, artisan: $artisan);
        self::assertSame(0, $terminate->exitCode, $terminate->describe());
        self::assertSame(0, $daemon->waitForExit(10.0), $daemon->describe());
    }

    /**
     * Copies tests/upgrade-app into this test's directory with the imports
     * swapped, and gives it what `composer require mqtt-broadcast/laravel`
     * would: vendor/autoload.php and vendor/composer/installed.json.
     */
    private function installApplication(): void
    {
        $files = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator(self::SOURCE, \FilesystemIterator::SKIP_DOTS));
        foreach ($files as $file) {
            $relative = substr($file->getPathname(), strlen(self::SOURCE) + 1);
            $target = "{$this->appDir}/$relative";
            @mkdir(dirname($target), 0777, true);
            $code = (string) file_get_contents($file->getPathname());
            // The config file stays verbatim; the application's code gets the new imports.
            if (!str_starts_with($relative, 'config/')) {
                $code = str_replace('enzolarosa\\MqttBroadcast\\', 'MqttBroadcast\\Laravel\\', $code);
            }
            file_put_contents($target, $code);
        }
        foreach (['bootstrap/cache', 'storage/app', 'storage/framework/cache/data', 'vendor/composer'] as $dir) {
            @mkdir("{$this->appDir}/$dir", 0777, true);
        }
        touch("{$this->appDir}/database/database.sqlite");
        $package = json_decode((string) file_get_contents(dirname(__DIR__, 2) . '/composer.json'), true, flags: JSON_THROW_ON_ERROR);
        file_put_contents("{$this->appDir}/vendor/composer/installed.json", json_encode(['packages' => [$package]]));
        file_put_contents("{$this->appDir}/vendor/autoload.php", '<?php
            require ' . var_export(dirname(__DIR__) . '/autoload.php', true) . ';
            spl_autoload_register(static function (string $class): void {
                if (str_starts_with($class, "App\\\\") && is_file($file = __DIR__ . "/../app/" . str_replace("\\\\", "/", substr($class, 4)) . ".php")) {
                    require $file;
                }
            });');
    }
}
