<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Exceptions;

/**
 * A real publish (or the daemon) in a PHP without the mqtt_broadcast extension.
 * The application boots without it; only the code that talks to a broker needs it.
 */
final class ExtensionMissingException extends \RuntimeException implements MqttBroadcastException
{
    public static function forThisPhp(): self
    {
        return new self(sprintf(
            'The mqtt_broadcast PHP extension is not loaded in this PHP (%s, %s, php.ini: %s), and mqtt-broadcast/laravel publishes and subscribes through it. '
            . 'Install it from a clone of the mqtt-broadcast repository with `./build.sh install` (it builds the extension and enables it for the CLI and PHP-FPM), '
            . 'then check with `php -m | grep mqtt_broadcast` and restart PHP-FPM. In tests, call MqttBroadcast::fake() instead.',
            PHP_BINARY,
            PHP_SAPI,
            php_ini_loaded_file() ?: 'none'
        ));
    }
}
