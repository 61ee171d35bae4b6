<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Exceptions;

/**
 * What the pure-PHP package threw for a connection that is not configured or
 * lacks a key; an application that catches it keeps catching those cases here
 * (InvalidConfigException), and the missing extension. An interface, as the
 * package's own exceptions extend the SPL ones.
 */
interface MqttBroadcastException extends \Throwable
{
}
