<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\Feature;

use Illuminate\Support\Facades\Artisan;
use Illuminate\Support\ServiceProvider;
use MqttBroadcast\Laravel\Facades\MqttBroadcast as MqttBroadcastFacade;
use MqttBroadcast\Laravel\MqttBroadcast;
use MqttBroadcast\Laravel\MqttBroadcastServiceProvider;
use MqttBroadcast\Laravel\Tests\TestCase;

final class ServiceProviderTest extends TestCase
{
    public function test_package_discovery_registers_the_provider_and_the_alias(): void
    {
        // tests/app lists neither: they come from extra.laravel of composer.json.
        $app = $this->bootApp();

        self::assertArrayHasKey(MqttBroadcastServiceProvider::class, $app->getLoadedProviders());
        self::assertTrue(class_exists('MqttBroadcast'), 'the MqttBroadcast alias');
        self::assertSame(MqttBroadcastFacade::class, (new \ReflectionClass('MqttBroadcast'))->getName());
        self::assertInstanceOf(MqttBroadcast::class, \MqttBroadcast::getFacadeRoot());
    }

    public function test_the_commands_are_registered(): void
    {
        $this->bootApp();

        self::assertEmpty(array_diff([
            'mqtt-broadcast', 'mqtt-broadcast:status', 'mqtt-broadcast:terminate', 'mqtt-broadcast:install', 'mqtt-broadcast:test',
            'mqtt-broadcast:failed', 'mqtt-broadcast:retry', 'mqtt-broadcast:retry-all', 'mqtt-broadcast:forget', 'mqtt-broadcast:flush',
        ], array_keys(Artisan::all())));
    }

    public function test_the_config_and_the_migration_are_published_with_their_tags(): void
    {
        $app = $this->bootApp();

        $config = ServiceProvider::pathsToPublish(MqttBroadcastServiceProvider::class, 'mqtt-broadcast-config');
        self::assertSame([$app->configPath('mqtt-broadcast.php')], array_values($config));
        self::assertFileExists(array_key_first($config));

        self::assertSame(0, Artisan::call('vendor:publish', ['--tag' => 'mqtt-broadcast-migrations']));
        self::assertCount(1, glob("{$this->appDir}/database/migrations/*_create_mqtt_loggers_table.php"));
    }

    public function test_the_package_config_fills_in_sections_the_application_file_leaves_out(): void
    {
        $app = $this->bootApp();
        $app['config']->set('mqtt-broadcast', ['connections' => ['default' => ['host' => '127.0.0.1']]]);
        (new MqttBroadcastServiceProvider($app))->register();

        self::assertSame(['production' => ['default'], 'local' => ['default']], $app['config']->get('mqtt-broadcast.environments'));
        self::assertSame(128, $app['config']->get('mqtt-broadcast.memory.threshold_mb'));
    }
}
