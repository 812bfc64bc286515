"""The fake package's sample engine."""

from Monsoon import PACKAGE

SampleEngine = PACKAGE.sampleEngine.SampleEngine
channels = PACKAGE.sampleEngine.channels
triggers = PACKAGE.sampleEngine.triggers
